// Bench terminal: a keyboard-wedge scanner "types" the code and presses Enter.
// Keep the scan box focused unless the user is working in another field, so a
// scan anywhere lands in it and Enter submits it.
(function () {
  function scanBox() { return document.querySelector("[data-scan-box]"); }
  function busyElsewhere() {
    var el = document.activeElement;
    if (!el || el === document.body) return false;
    if (el === scanBox()) return false;
    return ["INPUT", "TEXTAREA", "SELECT"].indexOf(el.tagName) !== -1 || el.isContentEditable;
  }
  document.addEventListener("DOMContentLoaded", function () {
    var box = scanBox();
    if (!box) return;
    // The top bar's scan box comes first in the page, so the browser's autofocus picks it
    // even when the page asks for one of its own fields (a form's scan field, a cell
    // count): give that field the focus, otherwise the scan box.
    var own = document.querySelector("[autofocus]:not([data-scan-box])");
    (own || box).focus();
    document.addEventListener("keydown", function (event) {
      if (busyElsewhere() || event.ctrlKey || event.altKey || event.metaKey) return;
      if (event.key.length === 1 && document.activeElement !== box) {
        box.value = "";
        box.focus();
      }
    });
  });
})();
