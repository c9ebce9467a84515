// Charts of the assessment pages (ranking, benefit, survey results). Data comes from
// JSON script blocks (CSP: no inline scripts).
(function () {
  var red = "#b71c1c", green = "#2e7d32", orange = "#ed6c02", blue = "#1565c0";
  var charts = [];
  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }
  function chart(el, option) {
    if (!el) return;
    var c = window.echarts.init(el);
    c.setOption(option);
    charts.push(c);
  }
  function ranking() {
    var d = data("as-ranking-data");
    if (!d) return;
    chart(document.getElementById("as-ranking-chart"), {
      tooltip: { trigger: "axis" },
      grid: { left: 110, right: 24, top: 10, bottom: 24 },
      xAxis: { type: "value", min: 0, max: 100 },
      yAxis: { type: "category", data: d.names, inverse: true },
      series: [{ name: d.label, type: "bar", barMaxWidth: 24, data: d.scores, itemStyle: { color: red },
                 label: { show: true, position: "right" } }]
    });
  }
  function benefit() {
    var d = data("as-benefit-data");
    if (!d) return;
    var l = d.labels;
    chart(document.getElementById("as-benefit-chart"), {
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { left: 60, right: 12, top: 16, bottom: 70 },
      xAxis: { type: "category", data: d.names, axisLabel: { interval: 0, rotate: d.names.length > 3 ? 30 : 0 } },
      yAxis: { type: "value" },
      series: [
        { name: l.per_order, type: "bar", barMaxWidth: 30, data: d.per_order, itemStyle: { color: red } },
        { name: l.per_m2, type: "bar", barMaxWidth: 30, data: d.per_m2, itemStyle: { color: orange } },
        { name: l.per_person, type: "bar", barMaxWidth: 30, data: d.per_person, itemStyle: { color: blue } }
      ]
    });
  }
  function surveys() {
    var d = data("as-survey-data");
    if (!d) return;
    document.querySelectorAll("[id^=as-survey-chart-]").forEach(function (el) {
      var q = d.questions[Number(el.getAttribute("data-index"))];
      if (!q || !q.counts) return;
      var names = Object.keys(q.counts);
      chart(el, {
        tooltip: { trigger: "axis" },
        grid: { left: 40, right: 12, top: 16, bottom: 30 },
        xAxis: { type: "category", data: names },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ name: d.label, type: "bar", barMaxWidth: 40, data: names.map(function (k) { return q.counts[k]; }), itemStyle: { color: green } }]
      });
    });
  }
  function init() {
    if (typeof window.echarts === "undefined") return;
    ranking();
    benefit();
    surveys();
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
