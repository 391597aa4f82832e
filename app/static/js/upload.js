// Resumable upload of a lesson video straight to object storage: the app creates an S3 multipart upload and
// hands out presigned part URLs; this script PUTs parts four at a time, shows progress, speed and time left,
// retries a failed part, and resumes from the parts already stored (the same file picked again after a
// dropped connection or a closed tab). The app then joins the parts and queues the processing job.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form) return;
  var cfg = JSON.parse(document.getElementById("lesson-config").textContent);
  var T = JSON.parse(document.getElementById("lesson-text").textContent);
  var input = document.getElementById("upload-file");
  var box = document.getElementById("upload-progress");
  var bar = document.getElementById("upload-bar");
  var text = document.getElementById("upload-text");
  var pauseBtn = document.getElementById("upload-pause");
  var csrf = document.querySelector("input[name=csrf_token]").value;
  var PARALLEL = 4, RETRIES = 5;
  var state = null;

  function api(method, url, data) {
    return fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: data === undefined ? undefined : JSON.stringify(data)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) { var e = new Error((j.error && j.error.message) || String(r.status)); e.status = r.status; throw e; }
        return j;
      });
    });
  }
  function fmtTime(s) {
    if (!isFinite(s)) return "…";
    s = Math.round(s);
    return (s >= 3600 ? Math.floor(s / 3600) + ":" : "") + ("0" + Math.floor(s % 3600 / 60)).slice(-2) + ":" + ("0" + s % 60).slice(-2);
  }
  function fmtBytes(b) { return b >= 1073741824 ? (b / 1073741824).toFixed(2) + " GB" : (b / 1048576).toFixed(1) + " MB"; }

  function render() {
    var loaded = state.doneBytes;
    Object.keys(state.inflight).forEach(function (k) { loaded += state.inflight[k]; });
    var now = performance.now();
    state.samples.push([now, loaded]);
    while (state.samples.length > 2 && now - state.samples[0][0] > 5000) state.samples.shift();
    var first = state.samples[0];
    var speed = now > first[0] ? (loaded - first[1]) / ((now - first[0]) / 1000) : 0;
    var pct = 100 * loaded / state.file.size;
    bar.value = pct;
    text.textContent = T.uploading + " " + pct.toFixed(1) + "% · " + fmtBytes(loaded) + " / " + fmtBytes(state.file.size) +
      " · " + fmtBytes(Math.max(0, speed)) + "/s · " + T.left + " " + fmtTime((state.file.size - loaded) / speed);
  }

  function putPart(n, url) {
    return new Promise(function (resolve, reject) {
      var start = (n - 1) * state.partSize;
      var blob = state.file.slice(start, Math.min(state.file.size, start + state.partSize));
      var xhr = new XMLHttpRequest();
      state.xhrs[n] = xhr;
      xhr.open("PUT", url);
      xhr.upload.onprogress = function (e) { state.inflight[n] = e.loaded; render(); };
      xhr.onload = function () {
        delete state.xhrs[n];
        var etag = xhr.getResponseHeader("ETag");
        if (xhr.status >= 200 && xhr.status < 300 && etag) resolve({ etag: etag, size: blob.size });
        else reject(Object.assign(new Error("part " + n + ": " + xhr.status), { status: xhr.status }));
      };
      xhr.onerror = function () { delete state.xhrs[n]; reject(new Error("network")); };
      xhr.onabort = function () { delete state.xhrs[n]; reject(Object.assign(new Error("paused"), { paused: true })); };
      xhr.send(blob);
    });
  }

  function urlsFor(numbers) {
    return api("POST", "/api/v1/videos/" + state.videoId + "/upload/parts", { parts: numbers })
      .then(function (j) { numbers.forEach(function (n) { state.urls[n] = j.urls[String(n)]; }); });
  }

  function worker() {
    if (state.paused) return Promise.resolve();
    var n = state.todo.shift();
    if (n === undefined) return Promise.resolve();
    var tries = 0;
    function attempt() {
      var ready = state.urls[n] ? Promise.resolve() : urlsFor(state.todo.slice(0, 19).concat([n]));
      return ready.then(function () { return putPart(n, state.urls[n]); }).then(function (r) {
        state.etags[n] = r.etag;
        state.doneBytes += r.size;
        delete state.inflight[n];
        render();
      }, function (err) {
        delete state.inflight[n];
        if (err.paused) { state.todo.unshift(n); return; }
        if (++tries > RETRIES) throw err;
        delete state.urls[n];  // an expired or refused URL is fetched afresh
        text.textContent = T.retrying + " (" + tries + "/" + RETRIES + ")";
        return new Promise(function (r) { setTimeout(r, Math.min(30000, 1000 * Math.pow(2, tries))); }).then(attempt);
      });
    }
    return attempt().then(worker);
  }

  function run() {
    state.paused = false;
    pauseBtn.hidden = false;
    pauseBtn.textContent = T.pause;
    var workers = [];
    for (var i = 0; i < PARALLEL; i++) workers.push(worker());
    return Promise.all(workers).then(function () {
      if (state.paused) { text.textContent = T.paused; pauseBtn.textContent = T.resume; return; }
      var parts = [];
      for (var n = 1; n <= state.partCount; n++) parts.push({ part_number: n, etag: state.etags[n] });
      return api("POST", "/api/v1/videos/" + state.videoId + "/upload/complete", { parts: parts }).then(function (v) {
        pauseBtn.hidden = true;
        localStorage.removeItem(storeKey());
        bar.value = 100;
        text.textContent = v.state === "failed" ? T.failed + ": " + v.error : T.done;
        setTimeout(function () { window.location.reload(); }, 1200);
      });
    }).catch(function (err) { text.textContent = T.failed + ": " + err.message; pauseBtn.hidden = true; });
  }

  function storeKey() { return "ieum-upload-" + cfg.lessonId; }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var file = input.files[0];
    if (!file) return;
    if (file.size > cfg.maxBytes) { box.hidden = false; text.textContent = T.tooBig; return; }
    box.hidden = false;
    text.textContent = T.uploading + "…";
    api("POST", cfg.uploadUrl, { filename: file.name, size: file.size }).then(function (plan) {
      state = { file: file, videoId: plan.video.id, partSize: plan.part_size, partCount: plan.part_count,
                etags: {}, urls: {}, inflight: {}, xhrs: {}, doneBytes: 0, samples: [], todo: [], paused: false };
      plan.uploaded_parts.forEach(function (p) {
        state.etags[p.part_number] = p.etag;
        state.doneBytes += Math.min(plan.part_size, file.size - (p.part_number - 1) * plan.part_size);
      });
      for (var n = 1; n <= plan.part_count; n++) if (!state.etags[n]) state.todo.push(n);
      localStorage.setItem(storeKey(), JSON.stringify({ name: file.name, size: file.size, videoId: plan.video.id }));
      if (plan.resumed) text.textContent = T.resumed;
      render();
      return run();
    }).catch(function (err) { text.textContent = T.failed + ": " + err.message; });
  });

  pauseBtn.addEventListener("click", function () {
    if (!state) return;
    if (!state.paused) {
      state.paused = true;
      Object.keys(state.xhrs).forEach(function (k) { state.xhrs[k].abort(); });
    } else {
      run();
    }
  });

  var previous = localStorage.getItem(storeKey());
  if (previous) {
    try {
      var p = JSON.parse(previous);
      box.hidden = false;
      text.textContent = T.resumed + " (" + p.name + ", " + fmtBytes(p.size) + ")";
    } catch (e) { localStorage.removeItem(storeKey()); }
  }
})();
