// The conduct page: each item's answer is saved by HTMX as it changes. An answer whose
// save did not get through (no signal) is kept in localStorage and sent again when the
// page is opened again or the connection returns. No inline scripts (CSP).
(function () {
  var root, storeKey;
  function pending() {
    try { return JSON.parse(localStorage.getItem(storeKey) || "{}"); } catch (e) { return {}; }
  }
  function keep(all) {
    try {
      if (Object.keys(all).length) localStorage.setItem(storeKey, JSON.stringify(all));
      else localStorage.removeItem(storeKey);
    } catch (e) { /* storage full or disabled: the server draft still holds the rest */ }
    var note = document.querySelector("[data-testid=offline-note]");
    if (note) note.hidden = !Object.keys(all).length;
  }
  function fields(box) {
    var out = {};
    box.querySelectorAll("input, textarea").forEach(function (el) {
      if (el.type === "radio" || el.type === "checkbox") {
        if (el.checked) out[el.name] = el.value;
        else if (!(el.name in out)) out[el.name] = null;
      } else {
        out[el.name] = el.value;
      }
    });
    return out;
  }
  function restore(box, values) {
    box.querySelectorAll("input, textarea").forEach(function (el) {
      if (!(el.name in values)) return;
      if (el.type === "radio" || el.type === "checkbox") el.checked = values[el.name] === el.value;
      else el.value = values[el.name];
    });
  }
  function box(key) {
    return root.querySelector('.answer[data-key="' + key + '"]');
  }
  function resend() {
    var all = pending();
    Object.keys(all).forEach(function (key) {
      var el = box(key);
      if (el && window.htmx) window.htmx.trigger(el, "change");
    });
  }
  function init() {
    root = document.getElementById("conduct");
    if (!root) return;
    storeKey = "dayuan-inspection-" + root.getAttribute("data-client-key");
    var all = pending();
    Object.keys(all).forEach(function (key) {
      var el = box(key);
      if (el) restore(el, all[key]);
      else delete all[key];
    });
    keep(all);
    root.addEventListener("htmx:beforeRequest", function (event) {
      var el = event.detail.elt;
      if (!el.classList || !el.classList.contains("answer")) return;
      var now = pending();
      now[el.getAttribute("data-key")] = fields(el);
      keep(now);
    });
    root.addEventListener("htmx:afterRequest", function (event) {
      var el = event.detail.elt;
      if (!el.classList || !el.classList.contains("answer") || !event.detail.successful) return;
      var now = pending();
      delete now[el.getAttribute("data-key")];
      keep(now);
    });
    var form = document.getElementById("submit-form");
    if (form) form.addEventListener("submit", function () { keep({}); });
    window.addEventListener("online", resend);
    if (Object.keys(all).length) resend();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
