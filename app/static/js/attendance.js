// Attendance page: right after a class, its recording is still being stored by the SFU. Ask for the
// recordings part again every few seconds (for up to five minutes) and show it as soon as it is listed.
(function () {
  "use strict";
  var section = document.getElementById("recordings");
  if (!section || !section.dataset.pollUrl) return;
  var url = section.dataset.pollUrl, tries = 0;
  function poll() {
    if (++tries > 100) return;
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("recordings");
        if (fresh && !fresh.dataset.pollUrl) { section.replaceWith(fresh); return; }
        setTimeout(poll, 3000);
      })
      .catch(function () { setTimeout(poll, 6000); });
  }
  setTimeout(poll, 2000);
})();
