// Work-order pages: live countdowns for SLA clocks (data-due, ISO time). No inline scripts (CSP).
(function () {
  var root = document.documentElement;
  var late = root.lang === "en" ? "overdue " : "超时 ";
  var left = root.lang === "en" ? "" : "剩余 ";
  var unit = root.lang === "en" ? { d: "d ", h: "h ", m: "min" } : { d: "天", h: "小时", m: "分" };
  function words(minutes) {
    var d = Math.floor(minutes / 1440), h = Math.floor((minutes % 1440) / 60), m = minutes % 60;
    return (d ? d + unit.d : "") + (h ? h + unit.h : "") + m + unit.m;
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      if (isNaN(due)) return;
      var minutes = Math.floor((due - now) / 60000);
      if (minutes < 0) {
        el.textContent = late + words(-minutes);
        el.classList.add("late");
      } else {
        el.textContent = left + words(minutes);
      }
    });
  }
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSwap", tick);
  setInterval(tick, 30000);
})();
