// Draws the dashboard's charts from the figures the page carries, and downloads each as PNG.
// The page's own font draws the labels, so the browser shapes Thai as in the rest of the page.
(function () {
  "use strict";
  const charts = JSON.parse(document.getElementById("dashboard-data").textContent);
  const palette = ["#0b6e4f", "#d97706", "#2563eb", "#9333ea", "#b42318", "#5f6b7a"];
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.font.size = 14;
  Chart.defaults.color = "#1f2933";

  // A downloaded PNG gets a white background, not the canvas's transparent one.
  const whiteBackground = {
    id: "whiteBackground",
    beforeDraw(chart) {
      const context = chart.ctx;
      context.save();
      context.globalCompositeOperation = "destination-over";
      context.fillStyle = "#ffffff";
      context.fillRect(0, 0, chart.width, chart.height);
      context.restore();
    },
  };

  const drawn = {};
  for (const spec of charts) {
    const round = spec.type === "doughnut";
    const datasets = spec.datasets.map((dataset, index) => ({
      ...dataset,
      backgroundColor: round ? palette : palette[index % palette.length],
      borderColor: round ? "#ffffff" : palette[index % palette.length],
      tension: 0.25,
    }));
    const axes = {
      x: { stacked: spec.stacked, beginAtZero: true, ticks: { precision: 0 } },
      y: { stacked: spec.stacked, beginAtZero: true, ticks: { precision: 0 } },
    };
    const canvas = document.querySelector(`#chart-${spec.id} canvas`);
    drawn[spec.id] = new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets },
      options: {
        maintainAspectRatio: false,
        indexAxis: spec.horizontal ? "y" : "x",
        animation: false,
        scales: round ? {} : axes,
        plugins: {
          title: { display: true, text: spec.title },
          legend: { display: datasets.length > 1 || round, position: "bottom" },
        },
      },
      plugins: [whiteBackground],
    });
  }

  document.querySelectorAll("button.download").forEach((button) => {
    button.addEventListener("click", () => {
      const link = document.createElement("a");
      link.href = drawn[button.dataset.chart].toBase64Image("image/png", 1);
      link.download = `${button.dataset.chart}.png`;
      document.body.appendChild(link);
      link.click();
      link.remove();
    });
  });
})();
