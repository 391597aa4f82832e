// Draws the report's bar chart from the JSON embedded in the page; the table stays the source of truth.
(function () {
  var el = document.getElementById("chart-data");
  var canvas = document.getElementById("report-chart");
  if (!el || !canvas || typeof Chart === "undefined") return;
  var data = JSON.parse(el.textContent);
  var colours = ["#0b5cad", "#0f6b2f", "#8a4b00"];
  data.datasets.forEach(function (d, i) { d.backgroundColor = colours[i % colours.length]; });
  new Chart(canvas, { type: "bar", data: data, options: { responsive: true, maintainAspectRatio: false,
    animation: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } });
})();
