// Draws one bar chart per survey item from the JSON beside each canvas; the tables stay the source of truth.
(function () {
  if (typeof Chart === "undefined") return;
  document.querySelectorAll("canvas.survey-chart").forEach(function (canvas) {
    var el = document.getElementById(canvas.dataset.source);
    if (!el) return;
    var data = JSON.parse(el.textContent);
    data.datasets.forEach(function (d) { d.backgroundColor = "#0b5cad"; });
    new Chart(canvas, { type: "bar", data: data, options: { responsive: true, maintainAspectRatio: false,
      animation: false, plugins: { legend: { display: false } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } });
  });
})();
