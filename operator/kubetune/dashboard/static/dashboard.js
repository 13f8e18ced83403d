// kubetune dashboard: draws the charts with Chart.js (served by the dashboard itself), keeps a running job's page
// live by polling its JSON endpoints, and shows or clears the database banner. No chart is drawn by hand.
"use strict";

(function () {
  const body = document.body;
  const refreshMs = Math.min(5000, Math.max(1000, Number(body.dataset.refreshMs) || 3000));
  const STATUS_MS = 5000;
  const COLORS = { loss: "#1f5fa8", evalLoss: "#c2410c", lr: "#6d28d9", tps: "#047857",
                   baseline: "#64748b", candidate: "#1f5fa8", interval: "rgba(31, 95, 168, 0.35)" };

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    const data = await response.json().catch(() => ({}));
    if (data && data.database && data.database.up === false) {
      showBanner(data.database.message || "");
    }
    if (!response.ok) throw new Error(url + ": " + response.status);
    return data;
  }

  // -- the database banner ----------------------------------------------------------------------------------------
  const banner = document.getElementById("banner");
  function showBanner(message) {
    if (!banner) return;
    const detail = document.getElementById("banner-detail");
    if (detail && message) detail.textContent = message;
    banner.hidden = false;
  }
  async function watchStatus() {
    try {
      const response = await fetch("/api/status", { cache: "no-store" });
      const status = await response.json();
      if (status.database.up) {
        // It came back: a page rendered while it was down has nothing in it, so load it again.
        if (banner && !banner.hidden) window.location.reload();
      } else {
        showBanner(status.database.message);
      }
    } catch (e) {
      showBanner("the dashboard itself is not answering");
    }
  }
  setInterval(watchStatus, STATUS_MS);

  if (typeof window.Chart === "undefined") return;  // charts not built (make assets): the pages still read
  const Chart = window.Chart;
  Chart.defaults.animation = false;  // a live curve redraws every few seconds; movement would only distract
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = getComputedStyle(body).fontFamily;

  function stepAxis(title) {
    return { x: { type: "linear", title: { display: true, text: "step" }, ticks: { precision: 0 } },
             y: { title: { display: true, text: title } } };
  }
  function line(label, color, points, extra) {
    return Object.assign({ label: label, data: points, borderColor: color, backgroundColor: color,
                           borderWidth: 2, pointRadius: points.length > 200 ? 0 : 2, spanGaps: true,
                           normalized: true }, extra || {});
  }

  // -- a training run ----------------------------------------------------------------------------------------------
  function runCharts(canvas) {
    const charts = {
      loss: new Chart(canvas, { type: "line", data: { datasets: [
        line("loss", COLORS.loss, []), line("eval loss", COLORS.evalLoss, [], { pointRadius: 3, borderDash: [6, 3] }),
      ] }, options: { scales: stepAxis("loss"), interaction: { mode: "nearest", intersect: false } } }),
      lr: new Chart(document.getElementById("lr-chart"), { type: "line", data: { datasets: [
        line("learning rate", COLORS.lr, [])] }, options: { scales: stepAxis("learning rate") } }),
      tps: new Chart(document.getElementById("tps-chart"), { type: "line", data: { datasets: [
        line("tokens/s", COLORS.tps, [])] }, options: { scales: stepAxis("tokens/s") } }),
    };
    return function update(curves) {
      const s = curves.series;
      const sets = [[charts.loss, 0, s.loss], [charts.loss, 1, s.eval_loss], [charts.lr, 0, s.learning_rate],
                    [charts.tps, 0, s.tokens_per_second]];
      for (const [chart, index, points] of sets) {
        chart.data.datasets[index].data = points;
        if (index === 0) chart.data.datasets[0].pointRadius = points.length > 200 ? 0 : 2;
      }
      Object.values(charts).forEach((chart) => chart.update("none"));
      const note = document.getElementById("curve-note");
      if (note) {
        note.textContent = curves.logged_steps + " logged steps" +
          (curves.downsampled ? ", down-sampled on the server to at most 2,000 points per curve" : "") +
          (curves.last_step !== null ? "; latest step " + curves.last_step : "") + ".";
      }
    };
  }

  function setFacts(run) {
    const p = run.progress || {};
    const total = p.totalSteps ? " / " + p.totalSteps.toLocaleString() : "";
    const fmt = (v, d) => (typeof v === "number" ? v.toFixed(d) : "-");
    const values = { step: (typeof p.step === "number" ? p.step.toLocaleString() : "-") + total,
                     epoch: fmt(p.epoch, 2), loss: fmt(p.loss, 4), evalLoss: fmt(p.evalLoss, 4),
                     tokensPerSecond: fmt(p.tokensPerSecond, 1), eta: p.eta || "-" };
    for (const [field, value] of Object.entries(values)) {
      const node = document.querySelector('#run-facts [data-field="' + field + '"]');
      if (node) node.textContent = value;
    }
    const percent = run.phase === "Succeeded" ? 100 : p.percent;
    document.querySelectorAll(".progress-line progress").forEach((bar) => {
      if (typeof percent === "number") bar.value = percent;
    });
    document.querySelectorAll(".progress-line .num").forEach((n) => {
      if (typeof percent === "number") n.textContent = percent.toFixed(1) + "%";
    });
    const phase = document.querySelector("#run-phase .phase");
    if (phase && run.phase) {
      phase.textContent = run.phase;
      phase.className = "phase phase-" + run.phase.toLowerCase();
    }
    const message = document.getElementById("run-message");
    if (message) message.textContent = (run.reason ? run.reason + ": " : "") + (run.message || "");
  }

  function liveRun(root) {
    const canvas = document.getElementById("loss-chart");
    if (!canvas) return;
    const update = runCharts(canvas);
    const uid = root.dataset.uid;
    let live = root.dataset.live === "true";
    async function poll() {
      try {
        update((await getJSON(canvas.dataset.curves)).curves);
        if (live) {
          const detail = (await getJSON("/api/runs/" + uid)).run;
          setFacts(detail.run);
          live = ["Pending", "Validating", "Queued", "Running", "Suspended"].includes(detail.run.phase);
          root.dataset.live = live ? "true" : "false";
          if (!live) {  // one last read: the final steps are written as the pod ends
            setTimeout(() => getJSON(canvas.dataset.curves).then((d) => update(d.curves)), refreshMs);
          }
        }
      } catch (e) { /* the banner says why; try again on the next tick */ }
      if (live) setTimeout(poll, refreshMs);
    }
    poll();
  }

  // -- a comparison ------------------------------------------------------------------------------------------------
  async function comparisonCharts() {
    const latency = document.getElementById("latency-chart");
    const win = document.getElementById("winrate-chart");
    if (!latency && !win) return;
    const data = (await getJSON((latency || win).dataset.comparison)).comparison;
    if (latency && data.latencyChart.labels.length) {
      const sets = data.latencyChart.datasets.map((d) => Object.assign({}, d, {
        backgroundColor: COLORS[d.label], borderColor: COLORS[d.label] }));
      new Chart(latency, { type: "bar", data: { labels: data.latencyChart.labels, datasets: sets },
        options: { scales: { y: { title: { display: true, text: "milliseconds" }, beginAtZero: true } } } });
    }
    const w = data.winRate;
    if (win && typeof w.estimate === "number") {
      const datasets = [{ type: "scatter", label: "win rate", data: [{ x: w.estimate, y: "candidate" }],
                          backgroundColor: COLORS.candidate, borderColor: COLORS.candidate, pointRadius: 7 }];
      if (w.ci95) {
        datasets.push({ type: "bar", label: "95% interval", data: [w.ci95], backgroundColor: COLORS.interval,
                        borderColor: COLORS.candidate, borderWidth: 1, barPercentage: 0.5 });
      }
      new Chart(win, { type: "bar", data: { labels: ["candidate"], datasets: datasets },
        options: { indexAxis: "y", scales: {
          x: { type: "linear", min: 0, max: 1, title: { display: true, text: "share of pairs (0.5: no difference)" } },
          y: { type: "category", labels: ["candidate"] } } } });
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const run = document.getElementById("run");
    if (run) liveRun(run);
    comparisonCharts().catch(() => {});
  });
})();
