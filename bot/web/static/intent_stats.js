/* The dashboard's message charts (Chart.js, vendored): the share of messages the assistant
   did not understand per day, and the most asked topics. Data from the page's JSON block;
   there is no list behind these figures (no message is stored, only counts). */
(function () {
  "use strict";
  var block = document.getElementById("intent-stats-data");
  if (!block || typeof Chart === "undefined") { return; }
  var data = JSON.parse(block.textContent);
  if (!data.byDay) { return; }
  var grey = "#8a94a3", teal = "#0f766e";
  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) { canvas.chart = new Chart(canvas, config); }
  }
  var d = data.byDay;
  draw("chart-not-understood", {
    type: "line",
    data: { labels: d.labels, datasets: [
      { label: "Không hiểu (%)", data: d.share, borderColor: grey, backgroundColor: grey, tension: 0.2, spanGaps: true }
    ] },
    options: {
      animation: false, maintainAspectRatio: false,
      scales: { y: { beginAtZero: true, suggestedMax: 20, ticks: { callback: function (v) { return v + " %"; } } } },
      plugins: { legend: { display: false }, tooltip: { callbacks: { afterLabel: function (item) {
        return d.notUnderstood[item.dataIndex] + " / " + d.messages[item.dataIndex] + " tin nhắn";
      } } } }
    }
  });
  draw("chart-topics", {
    type: "bar",
    data: { labels: data.topics.labels, datasets: [{ label: "Tin nhắn", data: data.topics.values, backgroundColor: teal }] },
    options: { animation: false, maintainAspectRatio: false, indexAxis: "y", plugins: { legend: { display: false } } }
  });
})();
