// Charts of the booking statistics. Data comes from a JSON script block (CSP: no inline scripts).
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
  function rates(names, series) {
    return {
      tooltip: { trigger: "axis", valueFormatter: function (v) { return v == null ? "—" : v + "%"; } },
      legend: { bottom: 0 },
      grid: { left: 44, right: 12, top: 16, bottom: 36, containLabel: true },
      xAxis: { type: "category", data: names, axisLabel: { interval: 0, rotate: names.length > 3 ? 30 : 0 } },
      yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
      series: series
    };
  }
  function init() {
    var node = document.getElementById("bk-stats-data");
    if (!node || typeof window.echarts === "undefined") return;
    var d = JSON.parse(node.textContent), l = d.labels;
    chart("bk-building-chart", rates(d.building.names, [
      { name: l.utilisation, type: "bar", barMaxWidth: 36, data: d.building.utilisation, itemStyle: { color: red } },
      { name: l.no_show, type: "bar", barMaxWidth: 36, data: d.building.no_show, itemStyle: { color: grey } }
    ]));
    chart("bk-org-chart", rates(d.org.names, [
      { name: l.utilisation, type: "bar", barMaxWidth: 36, data: d.org.utilisation, itemStyle: { color: red } },
      { name: l.no_show, type: "bar", barMaxWidth: 36, data: d.org.no_show, itemStyle: { color: grey } }
    ]));
    chart("bk-peak-chart", {
      tooltip: { trigger: "axis" },
      grid: { left: 36, right: 12, top: 16, bottom: 30 },
      xAxis: { type: "category", data: d.peak.hours },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ name: l.bookings, type: "bar", barMaxWidth: 24, data: d.peak.counts, itemStyle: { color: red } }]
    });
    chart("bk-service-chart", {
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { left: 36, right: 12, top: 16, bottom: 56 },
      xAxis: { type: "category", data: d.services.names },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: l.booked, type: "bar", barMaxWidth: 36, data: d.services.booked, itemStyle: { color: grey } },
        { name: l.served, type: "bar", barMaxWidth: 36, data: d.services.served, itemStyle: { color: green } },
        { name: l.no_shows, type: "bar", barMaxWidth: 36, data: d.services.no_show, itemStyle: { color: orange } }
      ]
    });
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
