// Charts of the inspection dashboard. Data comes from a JSON script block (CSP: no inline scripts).
(function () {
  var red = "#b71c1c", green = "#2e7d32", orange = "#ed6c02", grey = "#90a4ae";
  var charts = [];
  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el) return;
    var c = window.echarts.init(el);
    c.setOption(option);
    charts.push(c);
  }
  function bars(names, series, percent) {
    return {
      tooltip: { trigger: "axis" },
      legend: series.length > 1 ? { bottom: 0 } : undefined,
      grid: { left: 40, right: 12, top: 16, bottom: series.length > 1 ? 50 : 30 },
      xAxis: { type: "category", data: names, axisLabel: { interval: 0, rotate: names.length > 3 ? 30 : 0 } },
      yAxis: percent ? { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } } : { type: "value", minInterval: 1 },
      series: series
    };
  }
  function rates(names, values, label) {
    return {
      tooltip: { trigger: "axis" },
      grid: { left: 100, right: 16, top: 10, bottom: 20 },
      xAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
      yAxis: { type: "category", data: names, inverse: true },
      series: [{ name: label, type: "bar", barMaxWidth: 24, data: values, itemStyle: { color: red } }]
    };
  }
  function init() {
    var node = document.getElementById("insp-dashboard-data");
    if (!node || typeof window.echarts === "undefined") return;
    var d = JSON.parse(node.textContent), l = d.labels;
    chart("insp-coverage-chart", bars(d.coverage.names, [
      { name: l.due, type: "bar", barMaxWidth: 40, data: d.coverage.due, itemStyle: { color: grey } },
      { name: l.done, type: "bar", barMaxWidth: 40, data: d.coverage.done, itemStyle: { color: green } }
    ], false));
    chart("insp-trend-chart", {
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { left: 40, right: 40, top: 16, bottom: 50 },
      xAxis: { type: "category", data: d.trend.months },
      yAxis: [{ type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } }, { type: "value", minInterval: 1 }],
      series: [
        { name: l.pass_rate, type: "line", data: d.trend.rates, itemStyle: { color: red } },
        { name: l.findings, type: "bar", yAxisIndex: 1, barMaxWidth: 30, data: d.trend.findings, itemStyle: { color: orange } }
      ]
    });
    chart("insp-clause-chart", rates(d.by_clause.names, d.by_clause.rates, l.pass_rate));
    chart("insp-location-chart", rates(d.by_location.names, d.by_location.rates, l.pass_rate));
    chart("insp-vendor-chart", rates(d.by_vendor.names, d.by_vendor.rates, l.pass_rate));
    chart("insp-rect-chart", bars(d.rectification.names, [
      { name: l.closure, type: "bar", barMaxWidth: 40, data: d.rectification.closure, itemStyle: { color: green } },
      { name: l.on_time, type: "bar", barMaxWidth: 40, data: d.rectification.on_time, itemStyle: { color: red } }
    ], true));
    chart("insp-sup-chart", bars(d.supervision.names, [
      { name: l.open, type: "bar", barMaxWidth: 40, data: d.supervision.open, itemStyle: { color: grey } },
      { name: l.overdue, type: "bar", barMaxWidth: 40, data: d.supervision.overdue, itemStyle: { color: red } }
    ], false));
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
