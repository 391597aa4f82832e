// The lesson player: HLS through hls.js (Safari plays it natively), speed and quality controls, resume, and the
// progress reporter. The reporter keeps the intervals actually played (timeupdate while playing and visible;
// a seek or a pause closes the interval), sends them every few seconds and on pause, seek, end and pagehide
// (sendBeacon), and keeps whatever the server has not acknowledged for the next beat after a network loss.
// The server decides the credit; this script only reports what happened.
(function () {
  "use strict";
  var cfgEl = document.getElementById("lesson-config");
  if (!cfgEl) return;
  var cfg = JSON.parse(cfgEl.textContent);
  var T = JSON.parse(document.getElementById("lesson-text").textContent);
  var video = document.getElementById("video");
  if (!video) { pollState(cfg); return; }

  var src = video.getAttribute("data-src");
  var hls = null;
  var quality = document.getElementById("quality");
  if (window.Hls && window.Hls.isSupported()) {
    hls = new window.Hls({ enableWorker: false, startPosition: cfg.resumeAt > 0 ? cfg.resumeAt : -1 });
    hls.loadSource(src);
    hls.attachMedia(video);
    hls.on(window.Hls.Events.MANIFEST_PARSED, function () {
      hls.levels.forEach(function (level, i) {
        var o = document.createElement("option");
        o.value = String(i);
        o.textContent = (level.height || "?") + "p";
        quality.appendChild(o);
      });
    });
    quality.addEventListener("change", function () { hls.currentLevel = parseInt(quality.value, 10); });
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = src;  // Safari and iOS: native HLS
    quality.disabled = true;
    video.addEventListener("loadedmetadata", function () {
      if (cfg.resumeAt > 0 && cfg.resumeAt < video.duration - 1) video.currentTime = cfg.resumeAt;
    }, { once: true });
  }
  seekPreviews(video);
  var speed = document.getElementById("speed");
  speed.addEventListener("change", function () { video.playbackRate = parseFloat(speed.value); });

  if (!cfg.tracks) return;  // teachers and admins preview without a record

  // -- the reporter ------------------------------------------------------------------------------
  // The media element keeps the union of what it really played (`video.played`: seeks and pauses excluded).
  // Each beat reports what was added to it since the previous beat; time played while the tab was hidden is
  // marked as seen but never reported, so a hidden tab credits nothing.
  var sessionId = randomId();
  var seq = 0;
  var pending = [];          // played intervals not yet acknowledged by the server
  var seen = [];             // the union of intervals reported (or deliberately not reported)
  var lastT = video.currentTime || 0;
  var seekFrom = null;
  var inflight = false;
  var known = (cfg.segments || []).slice();
  var furthest = known.reduce(function (m, s) { return Math.max(m, s[1]); }, 0);
  var status = document.getElementById("beat-status");
  var csrf = document.querySelector("input[name=csrf_token]");

  function randomId() {
    var a = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function merge(list) {
    var sorted = list.slice().sort(function (a, b) { return a[0] - b[0]; });
    var out = [];
    sorted.forEach(function (r) {
      var last = out[out.length - 1];
      if (last && r[0] <= last[1] + 1e-6) last[1] = Math.max(last[1], r[1]);
      else out.push([r[0], r[1]]);
    });
    return out;
  }
  function minus(ranges, covered) {
    var out = [];
    ranges.forEach(function (r) {
      var cursor = r[0];
      covered.forEach(function (c) {
        if (c[1] <= cursor || c[0] >= r[1]) return;
        if (c[0] > cursor) out.push([cursor, c[0]]);
        cursor = Math.max(cursor, c[1]);
      });
      if (cursor < r[1]) out.push([cursor, r[1]]);
    });
    return out.filter(function (p) { return p[1] - p[0] > 0.01; });
  }
  function played() {
    var out = [];
    for (var i = 0; i < video.played.length; i++) out.push([video.played.start(i), video.played.end(i)]);
    return out;
  }
  function collect(report) {
    var fresh = minus(played(), seen);
    if (!fresh.length) return;
    seen = merge(seen.concat(fresh));
    if (report) pending = merge(pending.concat(fresh));
  }

  video.addEventListener("timeupdate", function () {
    if (!video.seeking) lastT = video.currentTime;
    if (lastT > furthest && !video.seeking) furthest = lastT;
  });
  video.addEventListener("pause", function () { beat("pause"); refresh(); });
  video.addEventListener("ended", function () { beat("ended"); refresh(); });
  video.addEventListener("ratechange", function () { beat("ratechange"); });
  video.addEventListener("seeking", function () {
    if (seekFrom === null) seekFrom = lastT;
    if (cfg.seekLock && video.currentTime > furthest + 1) {
      video.currentTime = furthest;  // the course forbids skipping ahead until the first completion
      if (status) status.textContent = T.locked;
    }
  });
  video.addEventListener("seeked", function () { lastT = video.currentTime; beat("seek"); });
  video.addEventListener("loadedmetadata", function () { beat("initialized"); }, { once: true });
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) beat("heartbeat", true);
    else collect(false);  // what played while hidden is not reported
  });
  window.addEventListener("pagehide", function () { beat("pagehide", true); });
  window.addEventListener("online", function () { beat("heartbeat"); });
  setInterval(function () { if (!video.paused || pending.length) beat("heartbeat"); }, 5000);

  function body(event, segments) {
    var b = { session_id: sessionId, seq: seq++, segments: segments, position: video.currentTime || 0,
              rate: video.playbackRate || 1, event: event };
    if (event === "seek" && seekFrom !== null) { b.from = seekFrom; seekFrom = null; }
    return b;
  }
  function take() {
    // What this beat reports: every unacknowledged interval, including what was played since the last one.
    if (!document.hidden) collect(true);
    return pending.slice();
  }
  function beat(event, beacon) {
    if (inflight && !beacon) return;  // the next beat carries it
    var segs = take();
    var payload = JSON.stringify(body(event, segs));
    if (beacon && navigator.sendBeacon) {
      navigator.sendBeacon(cfg.progressUrl, new Blob([payload], { type: "application/json" }));
      return;
    }
    inflight = true;
    fetch(cfg.progressUrl, {
      method: "POST", credentials: "same-origin", keepalive: true,
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf ? csrf.value : "" },
      body: payload
    }).then(function (r) {
      if (!r.ok) throw new Error(String(r.status));
      return r.json();
    }).then(function (state) {
      known = merge(known.concat(segs));
      pending = minus(pending, segs);
      show(state);
      if (status) status.textContent = "";
    }).catch(function () {
      if (status) status.textContent = T.offline;  // kept in `pending`, resent with the next beat
    }).then(function () { inflight = false; });
  }
  function show(state) {
    var p = document.getElementById("watch-percent");
    if (p) p.textContent = state.percent;
    var m = document.getElementById("watch-minutes");
    if (m) m.textContent = (state.watched_s / 60).toFixed(1);
    if (state.completed) { var d = document.getElementById("watch-done"); if (d) d.textContent = T.complete; cfg.seekLock = false; }
  }
  function refresh() {
    fetch(cfg.progressUrl, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (own) { if (own) { known = own.segments; draw(); show(own); if (!own.seek_lock) cfg.seekLock = false; } })
      .catch(function () {});
  }
  function draw() {
    var bar = document.getElementById("watched-bar");
    var total = cfg.duration || video.duration;
    if (!bar || !total) return;
    while (bar.firstChild) bar.removeChild(bar.firstChild);
    known.forEach(function (s) {
      var span = document.createElement("span");
      span.style.left = (100 * s[0] / total) + "%";
      span.style.width = Math.max(0.2, 100 * (s[1] - s[0]) / total) + "%";
      bar.appendChild(span);
    });
  }
  draw();
})();

// While a video is uploading or processing, its state and percentage refresh by themselves.
function pollState(cfg) {
  if (!cfg.videoUrl) return;
  var label = document.getElementById("state-label");
  if (!label) return;
  var T = JSON.parse(document.getElementById("lesson-text").textContent);
  var names = { uploading: T.uploading, processing: T.processing, ready: T.ready, failed: T.failedState };
  var timer = setInterval(function () {
    fetch(cfg.videoUrl, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (v) {
      label.textContent = names[v.state] || v.state;
      var pct = document.getElementById("state-pct");
      if (pct) pct.textContent = Math.round(v.progress_pct);
      var bar = document.getElementById("state-bar");
      if (bar) bar.value = v.progress_pct;
      if (v.state === "ready" || v.state === "failed") { clearInterval(timer); window.location.reload(); }
    }).catch(function () {});
  }, 2000);
}

// Seek previews: while the viewer drags the scrubber (or seeks by keyboard), the thumbnail of that moment
// from the sprite sheet (its WebVTT cues name the tile: sprite.jpg#xywh=x,y,w,h) shows beside the controls.
function seekPreviews(video) {
  var box = document.getElementById("seek-preview");
  var track = document.getElementById("thumbs");
  if (!box || !track) return;
  var cues = [];
  fetch(track.getAttribute("src"), { credentials: "same-origin" }).then(function (r) { return r.ok ? r.text() : ""; })
    .then(function (text) {
      text.split(/\n\n+/).forEach(function (block) {
        var m = block.match(/(\d+):(\d+):(\d+\.\d+) --> (\d+):(\d+):(\d+\.\d+)\s+(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)/);
        if (!m) return;
        cues.push({ start: +m[1] * 3600 + +m[2] * 60 + +m[3], end: +m[4] * 3600 + +m[5] * 60 + +m[6], url: m[7],
                    x: +m[8], y: +m[9], w: +m[10], h: +m[11] });
      });
    }).catch(function () {});
  var timer = null;
  video.addEventListener("seeking", function () {
    var t = video.currentTime;
    var cue = cues.filter(function (c) { return t >= c.start && t < c.end; })[0];
    if (!cue) return;
    box.style.width = cue.w + "px";
    box.style.height = cue.h + "px";
    box.style.backgroundImage = "url(\"" + cue.url + "\")";
    box.style.backgroundPosition = "-" + cue.x + "px -" + cue.y + "px";
    box.hidden = false;
    clearTimeout(timer);
    timer = setTimeout(function () { box.hidden = true; }, 1200);
  });
}
