// Charts of the resource-pool dashboard. Data comes from a JSON script block (CSP: no inline scripts).
(function () {
  var red = "#b71c1c", blue = "#1565c0", green = "#2e7d32", orange = "#ed6c02";
  var charts = [];
  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el) return;
    var c = window.echarts.init(el);
    c.setOption(option);
    charts.push(c);
  }
  function bars(id, names, values, name, color, unit) {
    chart(id, {
      tooltip: { trigger: "axis" },
      grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
      xAxis: { type: "value", axisLabel: { formatter: unit ? "{value}" + unit : "{value}" } },
      yAxis: { type: "category", data: names, inverse: true, axisLabel: { width: 110, overflow: "truncate" } },
      series: [{ name: name, type: "bar", barMaxWidth: 18, data: values, itemStyle: { color: color } }]
    });
  }
  function init() {
    var node = document.getElementById("rs-stats-data");
    if (!node || typeof window.echarts === "undefined") return;
    var d = JSON.parse(node.textContent), l = d.labels;
    bars("rs-kind-chart", d.kinds, d.kind_util, l.utilisation, red, "%");
    bars("rs-owner-chart", d.owners, d.owner_util, l.utilisation, blue, "%");
    bars("rs-saved-chart", d.saving_orgs, d.saved, l.saved, green, "");
    bars("rs-hours-chart", d.teams, d.hours, l.hours, orange, "");
    chart("rs-centre-chart", {
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { left: 44, right: 44, top: 16, bottom: 56, containLabel: true },
      xAxis: { type: "category", data: d.centres, axisLabel: { interval: 0, rotate: d.centres.length > 3 ? 30 : 0 } },
      yAxis: [{ type: "value", minInterval: 1 }, { type: "value", min: 0, max: 100, splitLine: { show: false }, axisLabel: { formatter: "{value}%" } }],
      series: [
        { name: l.demands, type: "bar", barMaxWidth: 28, data: d.centre_demands, itemStyle: { color: blue } },
        { name: l.fulfilment, type: "line", yAxisIndex: 1, data: d.centre_fulfilment, itemStyle: { color: red } }
      ]
    });
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
