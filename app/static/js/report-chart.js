// Draws the report's charts from the JSON embedded in the page; the tables stay the source of truth.
// A canvas names its data with data-chart="<id of a JSON script>" (the first canvas may be #report-chart
// with #chart-data); data-kind="bar" (default), "hbar" (horizontal bars) or "stacked".
(function () {
  if (typeof Chart === "undefined") return;
  var colours = ["#0b5cad", "#0f6b2f", "#8a4b00", "#7a1f5c", "#5b5b5b"];
  var canvases = Array.prototype.slice.call(document.querySelectorAll("canvas[data-chart], #report-chart"));
  canvases.forEach(function (canvas) {
    var el = document.getElementById(canvas.getAttribute("data-chart") || "chart-data");
    if (!el) return;
    var data = JSON.parse(el.textContent);
    var kind = canvas.getAttribute("data-kind") || "bar";
    data.datasets.forEach(function (d, i) { d.backgroundColor = d.backgroundColor || colours[i % colours.length]; });
    var stacked = kind === "stacked";
    var value = { beginAtZero: true, stacked: stacked, ticks: { precision: 0 } };
    if (data.max) value.max = data.max;
    var scales = kind === "hbar" ? { x: value, y: { stacked: stacked } } : { y: value, x: { stacked: stacked } };
    new Chart(canvas, { type: "bar", data: { labels: data.labels, datasets: data.datasets },
      options: { indexAxis: kind === "hbar" ? "y" : "x", responsive: true, maintainAspectRatio: false,
        animation: false, scales: scales } });
  });
})();
