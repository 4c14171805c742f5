// Portier's script on HTML pages of restricted routes. It reads what to do
// from its own data-block attribute (no inline script, so the
// application's Content-Security-Policy keeps working). Deterrence only:
// a person who controls the browser can switch it off.
(function () {
  "use strict";
  var me = document.currentScript;
  var block = ((me && me.getAttribute("data-block")) || "").split(" ");
  function has(x) { return block.indexOf(x) >= 0; }
  function stop(e) { e.preventDefault(); e.stopImmediatePropagation(); }
  if (has("clipboard")) {
    ["copy", "cut", "paste"].forEach(function (t) { document.addEventListener(t, stop, true); });
  }
  if (has("print")) {
    try { window.print = function () {}; } catch (e) { /* read-only in some browsers */ }
    document.addEventListener("keydown", function (e) {
      if ((e.ctrlKey || e.metaKey) && (e.key === "p" || e.key === "P")) { stop(e); }
    }, true);
  }
  // Keep Portier's elements: put them back when a script removes or hides them.
  var kept = [document.querySelector("portier-wm"), document.querySelector("portier-banner")].filter(Boolean);
  if (!kept.length || !window.MutationObserver) { return; }
  function restore() {
    kept.forEach(function (el) {
      if (el.hasAttribute("style")) { el.removeAttribute("style"); }
      if (el.hasAttribute("hidden")) { el.removeAttribute("hidden"); }
      if (!el.isConnected && document.body) { document.body.appendChild(el); }
    });
  }
  var mo = new MutationObserver(restore);
  mo.observe(document.documentElement, { childList: true, subtree: true });
  kept.forEach(function (el) { mo.observe(el, { attributes: true }); });
})();
