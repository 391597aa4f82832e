// Live class client: signalling with the SFU (see webrtc/signalling.py's docstring for the protocol),
// one "publish" peer connection (browser offers) and one "subscribe" connection (SFU offers).
// No framework: the page must work on a school phone with no plugins.
(function () {
  "use strict";
  var app = document.getElementById("live-app");
  if (!app) return;
  var T = JSON.parse(document.getElementById("live-i18n").textContent);
  var role = app.dataset.role;
  var me = app.dataset.me;
  var isTeacher = role === "teacher" || role === "admin";
  var $ = function (id) { return document.getElementById(id); };

  var state = {
    ws: null, pub: null, sub: null, localStream: null, screenStream: null, screenSender: null,
    tracks: {}, remote: {}, participants: {}, count: null, hands: 0, onStage: isTeacher, handUp: false, leaving: false, retries: 0,
    joined: false, pendingSubCandidates: [], micOn: true, camOn: true, endForm: null, republishing: false,
    started: false, galleryCam: false, galleryOpen: false, galleryPage: 0, galleryAsked: null
  };
  var GALLERY_PAGE = 25; // webrtc/router.py GALLERY_PAGE: the SFU forwards at most this many students' cameras
  window.ieumLive = state; // exposed for tests and for debugging in the field

  function status(text) { $("live-status").textContent = text; }
  function showError(text) { var e = $("live-error"); e.textContent = text; e.hidden = !text; }
  function send(msg) { if (state.ws && state.ws.readyState === 1) state.ws.send(JSON.stringify(msg)); }

  // ---------- devices ----------
  function fillDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
    navigator.mediaDevices.enumerateDevices().then(function (devs) {
      [["videoinput", "cam-select"], ["audioinput", "mic-select"]].forEach(function (pair) {
        var sel = $(pair[1]);
        var keep = sel.value;
        while (sel.options.length > 1) sel.remove(1);
        devs.filter(function (d) { return d.kind === pair[0] && d.deviceId; }).forEach(function (d, i) {
          var o = document.createElement("option");
          o.value = d.deviceId; o.textContent = d.label || (pair[0] + " " + (i + 1));
          sel.appendChild(o);
        });
        sel.value = keep;
      });
    });
  }

  function getMedia() {
    var cam = $("cam-select").value, mic = $("mic-select").value;
    var constraints = {
      audio: mic ? { deviceId: { exact: mic } } : true,
      video: cam ? { deviceId: { exact: cam }, width: { ideal: 640 }, height: { ideal: 360 } }
                 : { width: { ideal: 640 }, height: { ideal: 360 } }
    };
    return navigator.mediaDevices.getUserMedia(constraints).then(function (stream) {
      showError("");
      fillDevices();
      return stream;
    }, function (err) {
      showError(err && (err.name === "NotAllowedError" || err.name === "SecurityError") ? T.denied : T.nodevice);
      throw err;
    });
  }

  $("preview-btn").addEventListener("click", function () {
    getMedia().then(function (stream) {
      if (state.localStream) state.localStream.getTracks().forEach(function (t) { t.stop(); });
      state.localStream = stream;
      $("preview").srcObject = stream;
    }, function () {});
  });

  // ---------- joining ----------
  $("join-btn").addEventListener("click", join);

  function join() {
    showError("");
    status(T.connecting);
    $("join-btn").disabled = true;
    fetch(app.dataset.tokenUrl, { method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": app.dataset.csrf, "Content-Type": "application/json" }, body: "{}" })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (!res.ok) throw new Error((res.body.error && res.body.error.message) || T.join_failed);
        connect(res.body);
      })
      .catch(function (err) {
        $("join-btn").disabled = false;
        showError(err.message || T.join_failed);
        status(T.join_failed);
        if (state.joined) scheduleReconnect();
      });
  }

  function connect(grant) {
    var ws = new WebSocket(grant.sfu_url);
    state.ws = ws;
    state.leaving = false;
    ws.onopen = function () { ws.send(JSON.stringify({ type: "join", token: grant.token })); };
    ws.onmessage = function (ev) {
      var msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      handle(msg);
    };
    ws.onclose = function () {
      if (state.ws !== ws) return;
      teardownPeers();
      if (!state.leaving && state.joined) scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    status(T.reconnecting);
    var delay = Math.min(8000, 500 * Math.pow(2, state.retries++));
    setTimeout(function () { if (!state.leaving) join(); }, delay);
  }

  function iceConfig() { return { iceServers: state.iceServers || [], bundlePolicy: "max-bundle" }; }

  function handle(msg) {
    switch (msg.type) {
      case "joined":
        state.joined = true; state.retries = 0; state.iceServers = msg.ice_servers || [];
        $("prejoin").hidden = true; $("room").hidden = false;
        $("lobby").hidden = !msg.in_lobby;
        status(msg.in_lobby ? T.lobby : T.connected);
        state.onStage = isTeacher; // stage is per connection: after a rejoin the teacher calls again
        if (msg.class_started) markStarted();
        state.started = !!msg.class_started && !msg.in_lobby;
        state.galleryAsked = null; // a new connection: the SFU knows nothing of the gallery page yet
        if (state.onStage) startPublishing();
        else if (state.galleryCam && state.started) startGalleryCam();
        syncGalleryCam();
        break;
      // Teachers get the whole roster, then batched deltas; students get the teachers, the stage and
      // themselves, then deltas about those people only, and the room's size as a coalesced "count".
      case "participants":
        state.participants = {};
        (msg.participants || []).forEach(function (p) { state.participants[p.user] = p; });
        if (state.participants[me]) state.onStage = isTeacher || !!state.participants[me].on_stage;
        state.count = msg.count; state.hands = msg.hands;
        renderPeople();
        break;
      case "participant":
        if (msg.event === "left" || !shownToStudents(msg.participant)) delete state.participants[msg.participant.user];
        else upsert(msg.participant);
        renderPeople();
        break;
      case "participants_delta":
        (msg.left || []).forEach(function (user) { delete state.participants[user]; });
        (msg.joined || []).concat(msg.updated || []).forEach(upsert);
        renderPeople();
        break;
      case "count":
        state.count = msg.participants; state.hands = msg.hands;
        renderPeople();
        break;
      case "class_started":
        $("lobby").hidden = true; status(T.started); markStarted();
        state.started = true; syncGalleryCam();
        Object.keys(state.participants).forEach(function (k) { state.participants[k].in_lobby = false; });
        renderPeople();
        break;
      case "class_ended":
        classEnded();
        break;
      case "tracks":
        state.tracks = {};
        (msg.tracks || []).forEach(function (t) { state.tracks[t.mid] = t; });
        relabelTiles();
        break;
      case "offer":
        onSubscribeOffer(msg.sdp);
        break;
      case "answer":
        if (state.pub) state.pub.setRemoteDescription({ type: "answer", sdp: msg.sdp }).then(function () {
          if (state.republishing) { state.republishing = false; status(T.connected); }
        }, function (e) { showError(String(e)); });
        break;
      case "candidate":
        var pc = msg.pc === "publish" ? state.pub : state.sub;
        if (pc && msg.candidate) pc.addIceCandidate(msg.candidate).catch(function () {});
        break;
      case "stage":
        if (msg.user === me && !isTeacher) {
          state.onStage = msg.on;
          status(msg.on ? T.on_stage : T.off_stage);
          // The SFU closed what was published for the old place: publish again for the new one.
          state.galleryCam = false;
          stopPublishing();
          if (msg.on) { setHand(false); startPublishing(); }
          syncGalleryCam();
        }
        if (state.participants[msg.user]) { state.participants[msg.user].on_stage = msg.on; renderPeople(); }
        break;
      case "muted":
        if (state.localStream) state.localStream.getAudioTracks().forEach(function (t) { t.enabled = false; });
        state.micOn = false; syncButtons(); status(T.muted_by);
        break;
      case "removed":
        state.leaving = true; status(T.removed); teardownPeers();
        break;
      case "chat":
        addChat(msg);
        break;
      case "speaking":
        if (state.participants[msg.user]) state.participants[msg.user].speaking = msg.speaking;
        renderPeople(); markSpeaking(msg.user, msg.speaking);
        break;
      case "recording":
        $("rec-badge").hidden = !msg.on;
        break;
      case "error":
        if (msg.code === "class_ended") { classEnded(); break; }
        if (msg.code === "publish_lost") { republish(); break; }
        if (msg.code === "token_invalid" || msg.code === "removed" || msg.code === "replaced") { state.leaving = true; }
        // The SFU's messages are for developers; people read the page's own words for each code.
        showError((T.errors && T.errors[msg.code]) || T.error_other.replace("{code}", msg.code));
        break;
    }
  }

  // ---------- publishing (browser offers) ----------
  function startPublishing() {
    if (state.pub) return;
    var ready = state.localStream && state.localStream.getTracks().some(function (t) { return t.readyState === "live"; })
      ? Promise.resolve(state.localStream) : getMedia();
    ready.then(function (stream) {
      state.localStream = stream;
      $("preview").srcObject = stream;
      var pc = new RTCPeerConnection(iceConfig());
      state.pub = pc;
      stream.getTracks().forEach(function (t) { pc.addTransceiver(t, { direction: "sendonly", streams: [stream] }); });
      // A screen share still running from before a new connection goes on the new one too.
      var shared = state.screenStream && state.screenStream.getVideoTracks()[0];
      state.screenSender = shared && shared.readyState === "live"
        ? pc.addTransceiver(shared, { direction: "sendonly", streams: [state.screenStream] }).sender : null;
      pc.onicecandidate = function (e) { if (e.candidate) send({ type: "candidate", pc: "publish", candidate: e.candidate.toJSON() }); };
      pc.onconnectionstatechange = function () { if (pc.connectionState === "failed" && state.pub === pc) restartAll(); };
      state.micOn = true; state.camOn = true; syncButtons();
      $("mic-btn").hidden = false; $("cam-btn").hidden = false;
      showSelf(stream);
      return offerPublish();
    }).catch(function () { /* the message is already shown */ });
  }

  // The SFU closed the publish connection (ICE consent expired, or ICE/DTLS failed) while the socket is up:
  // what this page sent is gone for everyone, so send it again on a new connection.
  function republish() {
    var old = state.pub;
    state.pub = null;
    if (old) old.close();
    if (!state.onStage && !state.galleryCam) return;
    state.republishing = true;
    status(T.republishing);
    if (state.onStage) startPublishing(); else startGalleryCam();
  }

  function offerPublish() {
    var pc = state.pub;
    if (!pc) return Promise.resolve();
    return pc.createOffer().then(function (offer) { return pc.setLocalDescription(offer); }).then(function () {
      var screenMids = [];
      pc.getTransceivers().forEach(function (tr) {
        if (state.screenSender && tr.sender === state.screenSender && tr.mid) screenMids.push(tr.mid);
      });
      send({ type: "offer", pc: "publish", sdp: pc.localDescription.sdp, screen: screenMids });
    });
  }

  function stopPublishing() {
    if (state.pub) { state.pub.close(); state.pub = null; }
    if (state.localStream) { state.localStream.getTracks().forEach(function (t) { t.stop(); }); state.localStream = null; }
    $("mic-btn").hidden = true; $("cam-btn").hidden = true;
    var self = document.querySelector(".tile.self"); if (self) self.remove();
  }

  // ---------- a student's camera off stage: for the teachers' gallery only ----------
  // Small (320x180, 15 fps, 150 kbps: the SFU caps it too) and video only; the SFU forwards it to a teacher
  // only while their gallery page shows this student.
  function startGalleryCam() {
    if (state.pub || isTeacher || state.onStage) return;
    var cam = $("cam-select").value;
    var video = { width: { ideal: 320 }, height: { ideal: 180 }, frameRate: { ideal: 15 } };
    if (cam) video.deviceId = { exact: cam };
    navigator.mediaDevices.getUserMedia({ audio: false, video: video }).then(function (stream) {
      if (state.onStage || !state.galleryCam || state.pub) { stream.getTracks().forEach(function (t) { t.stop(); }); return; }
      showError("");
      // After a reconnect the camera from before is still open: one camera stream at a time.
      if (state.localStream) state.localStream.getTracks().forEach(function (t) { t.stop(); });
      state.localStream = stream;
      var pc = new RTCPeerConnection(iceConfig());
      state.pub = pc;
      var sender = pc.addTransceiver(stream.getVideoTracks()[0], { direction: "sendonly", streams: [stream] }).sender;
      var params = sender.getParameters();
      if (params.encodings && params.encodings.length) {
        params.encodings[0].maxBitrate = 150000;
        sender.setParameters(params).catch(function () { /* the SFU's REMB cap still holds */ });
      }
      pc.onicecandidate = function (e) { if (e.candidate) send({ type: "candidate", pc: "publish", candidate: e.candidate.toJSON() }); };
      pc.onconnectionstatechange = function () { if (pc.connectionState === "failed" && state.pub === pc) restartAll(); };
      showSelf(stream);
      return offerPublish();
    }, function (err) {
      state.galleryCam = false; syncGalleryCam();
      showError(err && (err.name === "NotAllowedError" || err.name === "SecurityError") ? T.denied : T.nodevice);
    });
  }

  function syncGalleryCam() {
    var b = $("gallery-cam-btn");
    if (!b) return;
    b.hidden = isTeacher || state.onStage || !state.started;
    b.textContent = state.galleryCam ? T.gallery_cam_off : T.gallery_cam_on;
    b.setAttribute("aria-pressed", String(state.galleryCam));
  }

  if ($("gallery-cam-btn")) $("gallery-cam-btn").addEventListener("click", function () {
    state.galleryCam = !state.galleryCam;
    if (state.galleryCam) { startGalleryCam(); } else { send({ type: "unpublish" }); stopPublishing(); }
    syncGalleryCam();
  });

  // What I send, as others see it: the teacher's in the main tile, a student's on stage beside it.
  function showSelf(stream) {
    var old = document.querySelector(".tile.self"); if (old) old.remove();
    if (!stream.getVideoTracks().length) return;
    var tile = document.createElement("div");
    tile.className = "tile self"; tile.setAttribute("role", "group"); tile.setAttribute("aria-label", T.me);
    var video = document.createElement("video");
    video.autoplay = true; video.playsInline = true; video.muted = true;
    video.srcObject = new MediaStream(stream.getVideoTracks());
    var label = document.createElement("span"); label.className = "label"; label.textContent = T.me;
    tile.appendChild(video); tile.appendChild(label);
    var main = $("main-tile");
    if (isTeacher && !main.querySelector(".tile")) {
      var empty = main.querySelector(".tile-empty"); if (empty) empty.hidden = true;
      main.appendChild(tile);
    } else {
      $("side-tiles").insertBefore(tile, $("side-tiles").firstChild);
    }
  }

  // ---------- subscribing (SFU offers) ----------
  function ensureSub() {
    if (state.sub) return state.sub;
    var pc = new RTCPeerConnection(iceConfig());
    state.sub = pc;
    pc.onicecandidate = function (e) { if (e.candidate) send({ type: "candidate", pc: "subscribe", candidate: e.candidate.toJSON() }); };
    pc.ontrack = function (e) { attachTrack(e.transceiver.mid, e.track); };
    pc.onconnectionstatechange = function () { if (pc.connectionState === "failed" && state.sub === pc) restartAll(); };
    return pc;
  }

  function onSubscribeOffer(sdp) {
    var pc = ensureSub();
    pc.setRemoteDescription({ type: "offer", sdp: sdp })
      .then(function () { return pc.createAnswer(); })
      .then(function (answer) { return pc.setLocalDescription(answer); })
      .then(function () { send({ type: "answer", pc: "subscribe", sdp: pc.localDescription.sdp }); relabelTiles(); })
      .catch(function (e) { showError(String(e)); });
  }

  function restartAll() {
    // A dead transport: rejoin with a fresh token; attendance is kept whole by the SFU's join/leave events.
    if (state.ws) { try { state.ws.close(); } catch (e) { /* already closed */ } }
  }

  function teardownPeers() {
    if (state.sub) { state.sub.close(); state.sub = null; }
    if (state.pub) { state.pub.close(); state.pub = null; }
    document.querySelectorAll("[data-mid]").forEach(function (el) { el.remove(); });
    state.remote = {};
  }

  // ---------- tiles ----------
  function attachTrack(mid, track) {
    var existing = document.querySelector('[data-mid="' + mid + '"]');
    if (existing) existing.remove();
    state.remote[mid] = track;
    var info = state.tracks[mid] || {};
    if (track.kind === "audio") {
      var audio = document.createElement("audio");
      audio.autoplay = true; audio.dataset.mid = mid; audio.dataset.user = info.user || "";
      audio.srcObject = new MediaStream([track]);
      app.appendChild(audio);
      return;
    }
    var tile = document.createElement("div");
    tile.className = "tile"; tile.dataset.mid = mid; tile.dataset.user = info.user || "";
    tile.setAttribute("role", "group"); // named after its participant in placeTile
    var video = document.createElement("video");
    video.autoplay = true; video.playsInline = true; video.muted = true;
    video.srcObject = new MediaStream([track]);
    var label = document.createElement("span");
    label.className = "label";
    tile.appendChild(video); tile.appendChild(label);
    placeTile(tile, info);
    track.onended = function () { tile.remove(); };
  }

  function placeTile(tile, info) {
    var p = state.participants[info.user] || {};
    if (info.kind === "gallery") { placeGalleryTile(tile, info, p); return; }
    tile.querySelector(".label").textContent = (info.name || p.name || "") + (info.kind === "screen" ? " · " + T.screen : "");
    tile.setAttribute("aria-label", tile.querySelector(".label").textContent);
    var main = $("main-tile");
    var isMain = info.kind === "screen" || ((p.role === "teacher" || p.role === "admin") && !main.querySelector('[data-kind="screen"]'));
    tile.dataset.kind = info.kind || "";
    if (isMain) {
      var empty = main.querySelector(".tile-empty"); if (empty) empty.hidden = true;
      main.querySelectorAll(".tile").forEach(function (t) { $("side-tiles").appendChild(t); });
      main.appendChild(tile);
    } else {
      $("side-tiles").appendChild(tile);
    }
  }

  function relabelTiles() {
    document.querySelectorAll(".tile[data-mid]").forEach(function (tile) {
      var info = state.tracks[tile.dataset.mid];
      if (!info) { tile.remove(); return; }
      tile.dataset.user = info.user;
      placeTile(tile, info);
    });
    reattach();
  }

  // A video whose tile is gone (a gallery cell paged away) but whose m-line now carries someone on screen
  // (the SFU reuses m-lines, so no new "track" event comes): show it again.
  function reattach() {
    Object.keys(state.tracks).forEach(function (mid) {
      var track = state.remote[mid];
      if (track && track.kind === "video" && track.readyState === "live" && !document.querySelector('[data-mid="' + mid + '"]')) {
        attachTrack(mid, track);
      }
    });
  }

  function markSpeaking(user, on) {
    document.querySelectorAll('.tile[data-user="' + user + '"]').forEach(function (t) { t.classList.toggle("speaking", !!on); });
  }

  // ---------- people and teacher controls ----------
  // A roster entry replaces the old one; whether someone is speaking comes from "speaking" messages.
  function upsert(p) {
    var old = state.participants[p.user];
    if (old && old.speaking) p.speaking = true;
    state.participants[p.user] = p;
  }

  // Students list the teachers, whoever is on stage and themselves (the SFU tells them of no one else).
  function shownToStudents(p) {
    return isTeacher || p.role !== "student" || p.on_stage || p.user === me;
  }

  function renderPeople() {
    var ul = $("people");
    ul.textContent = "";
    var all = Object.keys(state.participants).map(function (k) { return state.participants[k]; });
    var list = all;
    if ($("lobby-panel")) {
      // The teacher sees who waits in the lobby apart from who is in the class.
      var waiting = all.filter(function (p) { return p.in_lobby; });
      list = all.filter(function (p) { return !p.in_lobby; });
      $("lobby-panel").hidden = !waiting.length;
      $("lobby-count").textContent = "(" + T.count.replace("{n}", waiting.length) + ")";
      var lul = $("lobby-people"); lul.textContent = "";
      waiting.sort(function (a, b) { return String(a.name).localeCompare(String(b.name), "ko"); }).forEach(function (p) {
        var li = document.createElement("li"); li.textContent = p.name + " · " + T.waiting; lul.appendChild(li);
      });
    }
    list.sort(function (a, b) { return (b.hand_raised ? 1 : 0) - (a.hand_raised ? 1 : 0) || String(a.name).localeCompare(String(b.name), "ko"); });
    // A teacher counts the roster; a student's list is not the whole class, so the SFU's count is shown.
    var n = isTeacher || typeof state.count !== "number" ? list.length : state.count;
    $("people-count").textContent = "(" + T.count.replace("{n}", n) + ")";
    list.forEach(function (p) {
      var li = document.createElement("li");
      var name = document.createElement("span");
      name.textContent = p.name + (p.role === "teacher" ? " (" + T.teacher + ")" : "");
      if (p.speaking) { name.className = "speaking"; name.textContent += " · " + T.speaking; }
      li.appendChild(name);
      if (p.hand_raised) { var tag = document.createElement("span"); tag.className = "tag"; tag.textContent = "✋ " + T.raised; li.appendChild(tag); }
      if (isTeacher && p.user !== me && p.role === "student") {
        li.appendChild(button(p.on_stage ? T.stage_off : T.stage_on, function () { send({ type: "stage", user: p.user, on: !p.on_stage }); }, p.name));
        li.appendChild(button(T.mute, function () { send({ type: "mute", user: p.user }); }, p.name));
        li.appendChild(button(T.remove, function () {
          if (window.confirm(T.confirm_remove.replace("{name}", p.name))) send({ type: "remove", user: p.user });
        }, p.name));
      }
      ul.appendChild(li);
    });
    renderGallery();
  }

  // ---------- the teacher's gallery: students' cameras, a page at a time ----------
  // Students in the class and off stage (those on stage are on the stage already), cameras on first, then by
  // name. Only the page on screen is asked for ("gallery" message), so only its cameras are forwarded here.
  function galleryStudents() {
    return Object.keys(state.participants).map(function (k) { return state.participants[k]; })
      .filter(function (p) { return p.role === "student" && !p.in_lobby && !p.on_stage; })
      .sort(function (a, b) {
        var ca = (a.publishing || []).indexOf("video") >= 0 ? 0 : 1, cb = (b.publishing || []).indexOf("video") >= 0 ? 0 : 1;
        return ca - cb || String(a.name).localeCompare(String(b.name), "ko");
      });
  }

  function renderGallery() {
    var section = $("gallery");
    if (!section) return;
    var btn = $("gallery-btn");
    btn.setAttribute("aria-pressed", String(state.galleryOpen));
    section.hidden = !state.galleryOpen;
    if (!state.galleryOpen) { askGallery([]); return; }
    var students = galleryStudents();
    var pages = Math.max(1, Math.ceil(students.length / GALLERY_PAGE));
    state.galleryPage = Math.min(state.galleryPage, pages - 1);
    var shown = students.slice(state.galleryPage * GALLERY_PAGE, (state.galleryPage + 1) * GALLERY_PAGE);
    var withCam = students.filter(function (p) { return (p.publishing || []).indexOf("video") >= 0; }).length;
    $("gallery-count").textContent = "(" + T.gallery_count.replace("{cams}", withCam).replace("{n}", students.length) + ")";
    $("gallery-pageno").textContent = T.gallery_pageno.replace("{page}", state.galleryPage + 1).replace("{pages}", pages);
    $("gallery-prev").disabled = state.galleryPage === 0;
    $("gallery-next").disabled = state.galleryPage >= pages - 1;
    var grid = $("gallery-grid");
    var keep = {};
    shown.forEach(function (p) { keep[p.user] = true; });
    grid.querySelectorAll(".gcell").forEach(function (cell) { if (!keep[cell.dataset.user]) cell.remove(); });
    shown.forEach(function (p) {
      var cell = grid.querySelector('.gcell[data-user="' + p.user + '"]');
      if (!cell) {
        cell = document.createElement("div"); cell.className = "gcell"; cell.dataset.user = p.user;
        cell.setAttribute("role", "listitem");
        var off = document.createElement("p"); off.className = "gcell-off";
        var label = document.createElement("span"); label.className = "label";
        cell.appendChild(off); cell.appendChild(label);
      }
      var on = (p.publishing || []).indexOf("video") >= 0;
      cell.querySelector(".label").textContent = p.name + (p.hand_raised ? " ✋" : "");
      cell.setAttribute("aria-label", p.name);
      cell.querySelector(".gcell-off").textContent = on ? T.gallery_connecting : T.gallery_cam_none;
      cell.classList.toggle("cam", on);
      grid.appendChild(cell); // in page order
    });
    $("gallery-empty").hidden = students.length > 0;
    reattach();
    askGallery(shown.filter(function (p) { return (p.publishing || []).indexOf("video") >= 0; }).map(function (p) { return p.user; }));
  }

  // Tell the SFU which cameras this page shows, when that changes.
  function askGallery(users) {
    var key = users.slice().sort().join(",");
    if (key === state.galleryAsked || !state.joined) return;
    state.galleryAsked = key;
    send({ type: "gallery", users: users });
  }

  function placeGalleryTile(tile, info, p) {
    var cell = $("gallery-grid") && $("gallery-grid").querySelector('.gcell[data-user="' + info.user + '"]');
    if (!cell) { tile.remove(); return; } // paged away meanwhile: the next offer drops it
    tile.classList.add("gallery-video");
    tile.querySelector(".label").textContent = info.name || p.name || "";
    tile.setAttribute("aria-label", tile.querySelector(".label").textContent);
    tile.dataset.kind = "gallery";
    var old = cell.querySelector(".tile"); if (old && old !== tile) old.remove();
    cell.appendChild(tile);
  }

  if ($("gallery-btn")) {
    $("gallery-btn").addEventListener("click", function () { state.galleryOpen = !state.galleryOpen; renderGallery(); });
    $("gallery-prev").addEventListener("click", function () { state.galleryPage = Math.max(0, state.galleryPage - 1); renderGallery(); });
    $("gallery-next").addEventListener("click", function () { state.galleryPage += 1; renderGallery(); });
  }

  function button(text, onclick, who) {
    var b = document.createElement("button");
    b.type = "button"; b.textContent = text; b.className = "link";
    b.setAttribute("aria-label", who + " " + text);
    b.addEventListener("click", onclick);
    return b;
  }

  function setHand(up) {
    state.handUp = up;
    var b = $("hand-btn");
    if (b) { b.setAttribute("aria-pressed", String(up)); b.textContent = up ? T.hand_down : T.hand; }
  }

  if ($("hand-btn")) $("hand-btn").addEventListener("click", function () {
    send({ type: state.handUp ? "lower_hand" : "raise_hand" }); setHand(!state.handUp);
  });
  if ($("start-btn")) $("start-btn").addEventListener("click", function () { send({ type: "start_class" }); $("start-btn").disabled = true; });

  // Once the class runs, the start button gives way to a "수업 진행 중" sign.
  function markStarted() {
    if (!$("start-btn")) return;
    $("start-btn").hidden = true; $("started-pill").hidden = false;
  }

  function syncButtons() {
    $("mic-btn").textContent = state.micOn ? T.mic_off : T.mic_on;
    $("mic-btn").setAttribute("aria-pressed", String(!state.micOn));
    $("cam-btn").textContent = state.camOn ? T.cam_off : T.cam_on;
    $("cam-btn").setAttribute("aria-pressed", String(!state.camOn));
  }
  $("mic-btn").addEventListener("click", function () {
    state.micOn = !state.micOn;
    if (state.localStream) state.localStream.getAudioTracks().forEach(function (t) { t.enabled = state.micOn; });
    if (state.micOn) send({ type: "unmute" });
    syncButtons();
  });
  $("cam-btn").addEventListener("click", function () {
    state.camOn = !state.camOn;
    if (state.localStream) state.localStream.getVideoTracks().forEach(function (t) { t.enabled = state.camOn; });
    syncButtons();
  });

  if ($("screen-btn")) $("screen-btn").addEventListener("click", function () {
    var btn = $("screen-btn");
    if (state.screenStream) { stopScreen(); return; }
    if (!state.pub || !navigator.mediaDevices.getDisplayMedia) return;
    navigator.mediaDevices.getDisplayMedia({ video: true }).then(function (stream) {
      state.screenStream = stream;
      var track = stream.getVideoTracks()[0];
      state.screenSender = state.pub.addTransceiver(track, { direction: "sendonly", streams: [stream] }).sender;
      track.onended = stopScreen;
      btn.textContent = T.stop_screen; btn.setAttribute("aria-pressed", "true");
      return offerPublish();
    }).catch(function () { /* the teacher cancelled the picker */ });
  });

  function stopScreen() {
    if (!state.screenStream) return;
    state.screenStream.getTracks().forEach(function (t) { t.stop(); });
    if (state.pub && state.screenSender) { state.pub.removeTrack(state.screenSender); offerPublish(); }
    state.screenStream = null; state.screenSender = null;
    $("screen-btn").textContent = T.screen; $("screen-btn").setAttribute("aria-pressed", "false");
  }

  // ---------- chat ----------
  function addChat(msg) {
    var li = document.createElement("li");
    var who = document.createElement("strong"); who.textContent = msg.name + ": ";
    li.appendChild(who); li.appendChild(document.createTextNode(msg.text));
    $("chat-log").appendChild(li);
    $("chat-log").scrollTop = $("chat-log").scrollHeight;
  }
  $("chat-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var input = $("chat-text");
    var text = input.value.trim();
    if (!text) return;
    send({ type: "chat", text: text });
    input.value = "";
  });

  function hangUp() {
    state.leaving = true;
    send({ type: "leave" });
    teardownPeers();
    stopPublishing();
    if (state.ws) state.ws.close();
    state.joined = false;
  }

  $("leave-btn").addEventListener("click", function () {
    hangUp();
    status(T.ended);
    $("room").hidden = true; $("prejoin").hidden = false; $("join-btn").disabled = false;
  });

  // ---------- the end of the class ----------
  // The teacher's end button tells the SFU first (everyone is told the class is over and hangs up),
  // then posts the form, which closes attendance in the app. Without the SFU the form is posted anyway.
  function classEnded() {
    if (state.endForm) { submitEnd(); return; }
    hangUp();
    showError("");
    status(T.class_ended);
    $("room").hidden = true; $("prejoin").hidden = true;
    $("ended").hidden = false; // what comes next: the course page
  }

  function submitEnd() {
    var form = state.endForm;
    if (!form) return;
    state.endForm = null;
    hangUp();
    form.submit();
  }

  // Ending is for everyone and final: the prominent button asks first, in a dialog.
  if ($("end-btn")) $("end-btn").addEventListener("click", function () { $("end-dialog").showModal(); });
  if ($("end-cancel")) $("end-cancel").addEventListener("click", function () { $("end-dialog").close(); });
  if ($("end-form")) $("end-form").addEventListener("submit", function (e) {
    if (!state.ws || state.ws.readyState !== 1) return; // not connected: just post the form
    e.preventDefault();
    if (state.endForm) return;
    state.endForm = e.target;
    e.target.querySelector("button[type=submit]").disabled = true;
    send({ type: "end_class" });
    setTimeout(submitEnd, 3000); // the SFU did not confirm in time: end the class in the app regardless
  });

  window.addEventListener("pagehide", function () { if (state.ws) { state.leaving = true; send({ type: "leave" }); } });
  fillDevices();
})();
