// Charts of the work-order dashboard. Data comes from a JSON script block (CSP: no inline scripts).
(function () {
  var red = "#b71c1c";
  var charts = [];
  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el) return;
    var c = window.echarts.init(el);
    c.setOption(option);
    charts.push(c);
  }
  function init() {
    var node = document.getElementById("wo-dashboard-data");
    if (!node || typeof window.echarts === "undefined") return;
    var data = JSON.parse(node.textContent);
    chart("wo-day-chart", {
      tooltip: { trigger: "axis" },
      grid: { left: 36, right: 12, top: 16, bottom: 30 },
      xAxis: { type: "category", data: data.days },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ name: data.labels.volume, type: "line", data: data.day_counts, itemStyle: { color: red }, areaStyle: { color: "rgba(183,28,28,0.08)" } }]
    });
    chart("wo-category-chart", {
      tooltip: { trigger: "item" },
      series: [{ name: data.labels.count, type: "pie", radius: ["35%", "65%"], data: data.categories }]
    });
    chart("wo-ontime-chart", {
      tooltip: { trigger: "axis" },
      grid: { left: 40, right: 12, top: 16, bottom: 30 },
      xAxis: { type: "category", data: data.on_time.names },
      yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
      series: [{ name: data.labels.on_time, type: "bar", barMaxWidth: 40, data: data.on_time.rates, itemStyle: { color: red } }]
    });
    chart("wo-org-chart", {
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { left: 36, right: 12, top: 16, bottom: 50 },
      xAxis: { type: "category", data: data.orgs.names, axisLabel: { interval: 0, rotate: data.orgs.names.length > 3 ? 30 : 0 } },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: data.labels.count, type: "bar", barMaxWidth: 40, data: data.orgs.counts, itemStyle: { color: red } },
        { name: data.labels.overdue, type: "bar", barMaxWidth: 40, data: data.orgs.overdue, itemStyle: { color: "#ed6c02" } }
      ]
    });
    chart("wo-building-chart", {
      tooltip: { trigger: "axis" },
      grid: { left: 90, right: 16, top: 10, bottom: 20 },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: data.buildings.names, inverse: true },
      series: [{ name: data.labels.count, type: "bar", barMaxWidth: 28, data: data.buildings.counts, itemStyle: { color: red } }]
    });
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
