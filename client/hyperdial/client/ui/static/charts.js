// The study page's charts, drawn with ECharts once they scroll into view.

import { STATE_COLORS, el, fmt, onLeave, tick } from "./dom.js";

let charts = [];

export function disposeCharts() {
  lazily.disconnect();
  charts.forEach((instance) => instance.dispose());
  charts = [];
}

// Charts are drawn once they scroll into view: a study of 10,000 trials draws what the
// reader sees first, and the rest as they get there.
const lazily = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (entry.isIntersecting && entry.target.pendingOption) {
      const instance = echarts.init(entry.target, null, { renderer: "canvas" });
      instance.setOption(entry.target.pendingOption);
      delete entry.target.pendingOption;
      charts.push(instance);
      lazily.unobserve(entry.target);
    }
  }
}, { rootMargin: "200px" });

export function chart(node, option) {
  onLeave(disposeCharts);
  // No animation: ten thousand points would replay it at every live update.
  node.pendingOption = { animation: false, ...option };
  lazily.observe(node);
}

function axisOption(axis) {
  if (axis.kind === "categorical") return { type: "category", data: axis.choices, name: axis.name };
  const option = { type: axis.log ? "log" : "value", name: axis.name, min: axis.low, max: axis.high };
  if (axis.log) option.logBase = 10;
  option.axisLabel = { formatter: tick, hideOverlap: true };
  return option;
}

export function drawCharts(study, data, holder) {
  disposeCharts();
  holder.replaceChildren();
  const metric = study.objectives[0].metric;
  const panel = (title, id, extraClass = "chart") => {
    const body = el("div", { class: extraClass, id });
    holder.append(el("div", { class: "panel" }, el("h2", {}, title), body));
    return body;
  };
  const completed = data.pareto ? data.pareto.points.length : data.history.length;
  if (!completed && !data.curves.total) {
    holder.append(el("p", { class: "muted", id: "no-charts" }, "No completed trial and no reported value yet."));
    return;
  }
  if (data.pareto) drawPareto(study, data.pareto, panel);
  else if (completed) drawHistory(metric, data.history, panel);
  if (data.curves.total) drawCurves(metric, data.curves, panel);
  if (data.rows && data.rows.length) {
    drawParallel(study, data, metric, panel);
    drawImportance(data.importance, panel);
    drawSlices(study, data, metric, panel);
  }
}

function drawHistory(metric, points, panel) {
  chart(panel(`History: ${points.length} completed trials`, "chart-history"), {
    tooltip: { trigger: "item" }, legend: { top: 0 },
    xAxis: { type: "value", name: "trial", minInterval: 1 }, yAxis: { type: "value", name: metric, scale: true },
    series: [
      { name: metric, type: "scatter", symbolSize: 5, data: points.map((p) => [p[0], p[1]]), large: true },
      { name: "best so far", type: "line", step: "end", symbol: "none", data: points.map((p) => [p[0], p[2]]) },
    ],
  });
}

function drawCurves(metric, curves, panel) {
  const title = `Learning curves: ${curves.curves.length} of ${curves.total} trials (best and most recent)`;
  chart(panel(title, "chart-curves"), {
    tooltip: { trigger: "item", formatter: (p) => `trial ${p.seriesName}: step ${p.value[0]}, ${fmt(p.value[1])}` },
    xAxis: { type: "value", name: "step", minInterval: 1 }, yAxis: { type: "value", name: metric, scale: true },
    legend: { data: Object.keys(STATE_COLORS).map((s) => ({ name: s, itemStyle: { color: STATE_COLORS[s] } })), top: 0, selectedMode: false },
    series: [
      ...Object.keys(STATE_COLORS).map((state) => ({ name: state, type: "line", data: [], itemStyle: { color: STATE_COLORS[state] } })),
      ...curves.curves.map((c) => ({
        name: String(c.id), type: "line", showSymbol: c.state === "PRUNED", symbol: "triangle",
        data: c.points, lineStyle: { width: 1, opacity: 0.6, type: c.state === "PRUNED" ? "dashed" : "solid", color: STATE_COLORS[c.state] },
        itemStyle: { color: STATE_COLORS[c.state] }, emphasis: { focus: "series" },
      })),
    ],
  });
}

// Ten thousand lines are a blur and take the page a second to draw: past this many per
// group, the best trials and the latest ones.
const PARALLEL_EACH = 1000;

function parallelRows(rows, maximize) {
  if (rows.length <= 2 * PARALLEL_EACH) return rows;
  const best = [...rows].sort((a, b) => (maximize ? b[1] - a[1] : a[1] - b[1])).slice(0, PARALLEL_EACH);
  const chosen = new Set([...best, ...rows.slice(-PARALLEL_EACH)]);
  return rows.filter((row) => chosen.has(row));
}

function drawParallel(study, data, metric, panel) {
  const axes = study.axes.map((axis, i) => {
    const option = axisOption(axis);
    if (axis.conditional && axis.kind === "categorical") option.data = [...axis.choices, "(inactive)"];
    if (axis.conditional && axis.kind !== "categorical") option.name = `${axis.name} (gap: inactive)`;
    return { dim: i, ...option };
  });
  axes.push({ dim: axes.length, type: "value", name: metric, scale: true });
  const drawn = parallelRows(data.rows, study.objectives[0].goal === "maximize");
  const rows = drawn.map((row) => [...study.axes.map((axis, i) => {
    const value = row[3 + i];
    if (value === null) return axis.kind === "categorical" ? "(inactive)" : "-";
    return value;
  }), row[1]]);
  const values = rows.map((r) => r[r.length - 1]);
  const shown = drawn.length < data.rows.length
    ? `the best ${PARALLEL_EACH} and the latest ${PARALLEL_EACH} of ${data.rows.length} completed trials`
    : `${rows.length} completed trials`;
  chart(panel(`Parallel coordinates: ${shown}`, "chart-parallel"), {
    parallelAxis: axes, parallel: { left: 60, right: 60, bottom: 70, top: 50 },
    visualMap: { type: "continuous", dimension: axes.length - 1, min: values.reduce((a, b) => Math.min(a, b)),
      max: values.reduce((a, b) => Math.max(a, b)), orient: "horizontal", left: "center", bottom: 5,
      calculable: true, precision: 3, text: study.objectives[0].goal === "minimize" ? ["worse", "better"] : ["better", "worse"],
      inRange: { color: study.objectives[0].goal === "minimize" ? ["#1d4ed8", "#fbbf24", "#dc2626"] : ["#dc2626", "#fbbf24", "#1d4ed8"] } },
    series: [{ type: "parallel", data: rows, lineStyle: { width: 1, opacity: 0.4 }, progressive: 500, progressiveThreshold: 1000 }],
  });
}

function drawImportance(importance, panel) {
  const entries = Object.entries(importance.shares).sort((a, b) => a[1] - b[1]);
  chart(panel(`Parameter importance (share of variance), from ${importance.trials} completed trials`, "chart-importance"), {
    grid: { left: 130 }, xAxis: { type: "value", max: 1 }, yAxis: { type: "category", data: entries.map((e) => e[0]) },
    series: [{ type: "bar", data: entries.map((e) => e[1]), label: { show: true, position: "right", formatter: (p) => p.value.toFixed(2) } }],
  });
}

function drawSlices(study, data, metric, panel) {
  const holder = panel(`Slice plots: ${metric} against each parameter`, "chart-slices", "slices");
  study.axes.forEach((axis, i) => {
    const points = data.rows.filter((row) => row[3 + i] !== null).map((row) => [row[3 + i], row[1], row[0]]);
    const node = el("div", { class: "chart", "data-parameter": axis.name });
    holder.append(node);
    chart(node, {
      title: { text: `${axis.name} (${points.length})`, textStyle: { fontSize: 12 }, left: "center" },
      grid: { left: 55, right: 15, top: 30, bottom: 30 },
      tooltip: { formatter: (p) => `trial ${p.value[2]}: ${axis.name} ${fmt(p.value[0])}, ${fmt(p.value[1])}` },
      xAxis: { ...axisOption(axis), name: "" },
      yAxis: { type: "value", scale: true, axisLabel: { formatter: tick } },
      series: [{ type: "scatter", symbolSize: 4, data: points, large: true }],
    });
  });
}

function drawPareto(study, pareto, panel) {
  const [first, second] = study.objectives.map((o) => o.metric);
  const front = new Set(pareto.front);
  const point = (p) => [p.metrics[first], p.metrics[second], p.id];
  const title = `Pareto front: ${pareto.front.length} of ${pareto.points.length} completed trials; hypervolume ${fmt(pareto.hypervolume)}`;
  chart(panel(title, "chart-pareto"), {
    legend: { top: 0 }, tooltip: { formatter: (p) => `trial ${p.value[2]}: ${fmt(p.value[0])}, ${fmt(p.value[1])}` },
    xAxis: { type: "value", name: first, scale: true }, yAxis: { type: "value", name: second, scale: true },
    series: [
      { name: "front", type: "scatter", data: pareto.points.filter((p) => front.has(p.id)).map(point), itemStyle: { color: "#1d4ed8" }, symbolSize: 9 },
      { name: "dominated", type: "scatter", data: pareto.points.filter((p) => !front.has(p.id) && !p.violates).map(point), itemStyle: { color: "#9ca3af" } },
      { name: "violates constraints", type: "scatter", symbol: "diamond", data: pareto.points.filter((p) => p.violates).map(point), itemStyle: { color: "#b91c1c" } },
    ],
  });
}

window.addEventListener("resize", () => charts.forEach((instance) => instance.resize()));
