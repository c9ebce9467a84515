// The counter: after each hand-over the code box is emptied and focused again, so the
// next scan (a scanner types the code and Enter) goes straight in.
(function () {
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail && event.detail.elt;
    if (!form || form.id !== "handover-form") return;
    var input = form.querySelector("input[name=code]");
    if (input) { input.value = ""; input.focus(); }
  });
})();
