/* Live updates (tenderhall.events): progressive, the page works without this script.
 *
 * <div data-live-topic="jobs" data-live-after="123"> subscribes to GET /events/jobs?after=123
 * (server-sent events; the browser resumes with Last-Event-ID when the connection drops). On each
 * event the page is fetched again and every [data-live-region] element inside it is replaced by
 * the fetched one with the same id. "reload" (a gap the server cannot fill) reloads the page.
 * <time data-countdown datetime="…"> counts down to its time, every second.
 */
(function () {
  "use strict";
  var en = (document.documentElement.lang || "").indexOf("en") === 0;

  function refresh(root) {
    fetch(window.location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        root.querySelectorAll("[data-live-region]").forEach(function (old) {
          var next = old.id && fresh.getElementById(old.id);
          if (next) { old.replaceWith(document.importNode(next, true)); }
        });
        startCountdowns(root);
      })
      .catch(function () { /* the next event, or a reload, brings the page up to date */ });
  }

  function watch(root) {
    if (!window.EventSource) { return; }
    var url = "/events/" + encodeURIComponent(root.dataset.liveTopic);
    if (root.dataset.liveAfter) { url += "?after=" + encodeURIComponent(root.dataset.liveAfter); }
    var source = new EventSource(url);
    var timer = null;
    source.onmessage = function () {
      if (timer) { return; }
      timer = window.setTimeout(function () { timer = null; refresh(root); }, 250);
    };
    source.addEventListener("reload", function () { source.close(); window.location.reload(); });
  }

  function left(ms) {
    if (ms <= 0) { return en ? "closed" : "已截止"; }
    var s = Math.floor(ms / 1000), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600);
    var m = Math.floor(s % 3600 / 60), sec = s % 60;
    return en ? d + "d " + h + "h " + m + "m " + sec + "s left"
              : "剩余 " + d + " 天 " + h + " 时 " + m + " 分 " + sec + " 秒";
  }

  function startCountdowns(scope) {
    scope.querySelectorAll("[data-countdown]").forEach(function (el) {
      var at = Date.parse(el.getAttribute("datetime"));
      if (isNaN(at) || el.dataset.counting) { return; }
      el.dataset.counting = "1";
      var tick = function () { el.textContent = left(at - Date.now()); };
      tick();
      window.setInterval(tick, 1000);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live-topic]").forEach(watch);
    startCountdowns(document);
  });
})();
