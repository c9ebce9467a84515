// Charts of the compliance page. Data comes from a JSON script block (CSP: no inline scripts).
(function () {
  function init() {
    var node = document.getElementById("compliance-data");
    if (!node || typeof window.echarts === "undefined") return;
    var data = JSON.parse(node.textContent);
    var red = "#b71c1c";
    var trendEl = document.getElementById("trend-chart");
    if (trendEl) {
      var trend = window.echarts.init(trendEl);
      trend.setOption({
        tooltip: { trigger: "axis" },
        legend: { data: [data.trend.label, data.trend.totals_label], bottom: 0 },
        grid: { left: 40, right: 40, top: 20, bottom: 50 },
        xAxis: { type: "category", data: data.trend.months },
        yAxis: [
          { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
          { type: "value", minInterval: 1 }
        ],
        series: [
          { name: data.trend.label, type: "line", data: data.trend.rates, connectNulls: false, itemStyle: { color: red } },
          { name: data.trend.totals_label, type: "bar", yAxisIndex: 1, data: data.trend.totals, itemStyle: { color: "#cfd8dc" } }
        ]
      });
      window.addEventListener("resize", function () { trend.resize(); });
    }
    var orgEl = document.getElementById("org-chart");
    if (orgEl) {
      var orgs = window.echarts.init(orgEl);
      orgs.setOption({
        tooltip: { trigger: "axis" },
        grid: { left: 40, right: 20, top: 20, bottom: 60 },
        xAxis: { type: "category", data: data.orgs.names, axisLabel: { interval: 0, rotate: data.orgs.names.length > 4 ? 30 : 0 } },
        yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
        series: [{ name: data.orgs.label, type: "bar", data: data.orgs.rates, itemStyle: { color: red } }]
      });
      window.addEventListener("resize", function () { orgs.resize(); });
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
