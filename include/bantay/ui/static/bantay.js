// Links from a bantay page into Airflow itself (a run, Required Actions) are marked data-airflow.
//
// Inside Airflow's shell the pages live in an iframe sandboxed without allow-top-navigation, so
// target="_top" is refused, and a plain link would load a second Airflow UI inside the frame.
// The frame is same-origin (allow-same-origin), so a click asks the shell's own router to go
// there: the URL is pushed onto the shell's history and a popstate event makes its router
// follow, as it does for the Back button. Outside a frame the link is an ordinary link.
(function () {
  "use strict";

  function shell() {
    if (window.parent === window) return null;
    try {
      var parent = window.parent;
      return parent.location.origin === window.location.origin ? parent : null;
    } catch (e) {
      return null; // a parent of another origin: nothing to ask
    }
  }

  function ownClick(event) {
    return event.button === 0 && !(event.metaKey || event.ctrlKey || event.shiftKey || event.altKey);
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[data-airflow]") : null;
    if (!link || event.defaultPrevented || !ownClick(event)) return;
    var parent = shell();
    if (!parent) return;
    event.preventDefault();
    // The shape of the router's own history entries, one step further, so Back returns here.
    var previous = parent.history.state || {};
    var state = {
      usr: null,
      key: Math.random().toString(36).slice(2, 10),
      idx: (typeof previous.idx === "number" ? previous.idx : 0) + 1,
    };
    parent.history.pushState(state, "", link.href);
    parent.dispatchEvent(new parent.PopStateEvent("popstate", { state: state }));
  });
})();

// Times: the server writes <time datetime="...Z">... UTC</time>; here each is shown in the
// timezone chosen in Airflow's UI (kept in this origin's localStorage under "timezone", as
// JSON; the browser's own zone when none is chosen), and again when it changes in the shell.
(function () {
  "use strict";

  var KEY = "timezone";

  function chosenZone() {
    var raw = null;
    try {
      raw = window.localStorage.getItem(KEY);
    } catch (e) {
      raw = null;
    }
    if (raw) {
      try {
        raw = JSON.parse(raw);
      } catch (e) {
        // a bare zone name
      }
    }
    return typeof raw === "string" && raw ? raw : Intl.DateTimeFormat().resolvedOptions().timeZone;
  }

  function formatter(zone) {
    var options = {
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      hourCycle: "h23", timeZoneName: "short", timeZone: zone,
    };
    try {
      return new Intl.DateTimeFormat("sv-SE", options); // ISO-like: 2026-11-22 04:15
    } catch (e) {
      return null; // an unknown zone name: the UTC text stays
    }
  }

  function localise() {
    var zone = chosenZone();
    var format = formatter(zone);
    if (!format) return;
    var times = document.querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var el = times[i];
      if (!el.hasAttribute("data-utc")) el.setAttribute("data-utc", el.textContent);
      var moment = new Date(el.getAttribute("datetime"));
      if (isNaN(moment.getTime())) continue;
      el.textContent = format.format(moment);
      el.title = el.getAttribute("data-utc") + " (" + zone + ")";
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", localise);
  } else {
    localise();
  }
  window.addEventListener("storage", function (event) {
    if (event.key === null || event.key === KEY) localise();
  });
})();
