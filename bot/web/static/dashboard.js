/* The admin dashboard's charts (Chart.js, vendored). Data comes from the page's JSON block;
   clicking a bar or point opens the list of requests behind it. */
(function () {
  "use strict";
  var block = document.getElementById("dashboard-data");
  if (!block || typeof Chart === "undefined") { return; }
  var data = JSON.parse(block.textContent);
  var blue = "#0b5cab", red = "#b3261e", amber = "#e8a317", grey = "#8a94a3";
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;

  function opener(links) {
    return function (event, elements) {
      if (links && elements.length) { window.location.href = links[elements[0].index]; }
    };
  }
  function draw(id, type, labels, datasets, links, extra) {
    var canvas = document.getElementById(id);
    if (!canvas) { return; }
    var options = Object.assign({ onClick: opener(links), plugins: { legend: { display: datasets.length > 1 } } }, extra || {});
    canvas.chart = new Chart(canvas, { type: type, data: { labels: labels, datasets: datasets }, options: options });
  }
  var d = data.byDay;
  draw("chart-by-day", "line", d.labels, [
    { label: "Yêu cầu", data: d.requests, borderColor: blue, backgroundColor: blue, tension: 0.2 },
    { label: "Khẩn cấp", data: d.emergencies, borderColor: red, backgroundColor: red, tension: 0.2 }
  ], d.links);
  draw("chart-by-province", "bar", data.byProvince.labels,
    [{ label: "Yêu cầu", data: data.byProvince.values, backgroundColor: blue }], data.byProvince.links, { indexAxis: "y" });
  draw("chart-by-need", "bar", data.byNeed.labels,
    [{ label: "Yêu cầu", data: data.byNeed.values, backgroundColor: amber }], data.byNeed.links);
  draw("chart-by-status", "doughnut", data.byStatus.labels,
    [{ data: data.byStatus.values, backgroundColor: [blue, amber, "#1e7b34", red, grey, "#6f42c1"] }],
    data.byStatus.links, { plugins: { legend: { display: true, position: "right" } } });
  draw("chart-backlog", "bar", data.backlog.labels,
    [{ label: "Đang mở", data: data.backlog.values, backgroundColor: red }], data.backlog.links);
  var h = data.handoffs;
  draw("chart-handoffs", "bar", h.labels, [
    { label: "Chuyển cho nhân viên", data: h.total, backgroundColor: blue },
    { label: "Khẩn cấp", data: h.emergencies, backgroundColor: red },
    { label: "Trợ lý chưa hiểu", data: h.misunderstood, backgroundColor: grey }
  ], null);
})();
