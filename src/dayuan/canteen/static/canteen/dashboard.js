// Charts of the canteen dashboard. Data comes from a JSON script block (CSP: no inline scripts).
(function () {
  var red = "#b71c1c", grey = "#90a4ae", green = "#2e7d32", orange = "#ed6c02";
  var charts = [];
  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el) return;
    var c = window.echarts.init(el);
    c.setOption(option);
    charts.push(c);
  }
  function init() {
    var node = document.getElementById("ct-dashboard-data");
    if (!node || typeof window.echarts === "undefined") return;
    var d = JSON.parse(node.textContent), l = d.labels;
    chart("ct-diners-chart", {
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { left: 40, right: 12, top: 16, bottom: 56 },
      xAxis: { type: "category", data: d.days },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: l.reserved, type: "bar", barMaxWidth: 18, data: d.reserved, itemStyle: { color: grey } },
        { name: l.diners, type: "line", smooth: true, data: d.diners, itemStyle: { color: red } },
        { name: l.no_shows, type: "bar", barMaxWidth: 18, data: d.no_shows, itemStyle: { color: orange } }
      ]
    });
    chart("ct-waste-chart", {
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { left: 40, right: 40, top: 16, bottom: 56 },
      xAxis: { type: "category", data: d.days },
      yAxis: [{ type: "value", name: "g" }, { type: "value", min: 0, max: 5, splitLine: { show: false } }],
      series: [
        { name: l.waste, type: "line", smooth: true, connectNulls: true, data: d.waste, itemStyle: { color: green } },
        { name: l.rating, type: "line", yAxisIndex: 1, connectNulls: true, data: d.rating, itemStyle: { color: orange } }
      ]
    });
    chart("ct-compliance-chart", {
      tooltip: {
        trigger: "axis",
        formatter: function (p) {
          var i = p[0].dataIndex;
          return d.clauses[i] + " " + d.clause_texts[i] + "<br>" + (p[0].value == null ? "—" : p[0].value + "%");
        }
      },
      grid: { left: 44, right: 12, top: 16, bottom: 30 },
      xAxis: { type: "category", data: d.clauses },
      yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
      series: [{ name: l.compliance, type: "bar", barMaxWidth: 28, data: d.compliance, itemStyle: { color: red } }]
    });
    chart("ct-canteen-chart", {
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { left: 44, right: 44, top: 16, bottom: 56, containLabel: true },
      xAxis: { type: "category", data: d.canteens, axisLabel: { interval: 0, rotate: d.canteens.length > 3 ? 30 : 0 } },
      yAxis: [{ type: "value", minInterval: 1 }, { type: "value", name: "g", splitLine: { show: false } }],
      series: [
        { name: l.reserved, type: "bar", barMaxWidth: 28, data: d.canteen_reserved, itemStyle: { color: grey } },
        { name: l.diners, type: "bar", barMaxWidth: 28, data: d.canteen_diners, itemStyle: { color: red } },
        { name: l.waste, type: "line", yAxisIndex: 1, data: d.canteen_waste, itemStyle: { color: green } }
      ]
    });
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
