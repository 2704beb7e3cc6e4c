// Bench terminal: a scanner "types" into a field marked data-scan-field and presses Enter.
// There Enter must not submit the half-filled form: move to the next field instead.
(function () {
  document.addEventListener("keydown", function (event) {
    var field = event.target;
    if (event.key !== "Enter" || !field.matches || !field.matches("[data-scan-field]")) return;
    event.preventDefault();
    var fields = Array.prototype.slice.call(
      field.form.querySelectorAll("input:not([type=hidden]), select, textarea, button"));
    var next = fields[fields.indexOf(field) + 1];
    if (next) next.focus();
  });
})();
// After a mouse or touch choice (a radio, a checkbox, a list), the next scan must still land
// in the field that expects it: focus returns to the form's empty data-scan-target field.
(function () {
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (!field.form || !field.matches("input[type=radio], input[type=checkbox], select")) return;
    var target = field.form.querySelector("[data-scan-target]");
    if (target && !target.value) target.focus();
  });
})();
