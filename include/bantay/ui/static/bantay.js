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
