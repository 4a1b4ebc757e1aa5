// hyperdial's web UI: studies, a study (table, charts, actions), a trial.
// Plain JavaScript modules over the UI process's JSON API (`hyperdial/client/ui/app.py`);
// charts with ECharts, served from this package. Routes live in the hash:
// #/ · #/study/NAME · #/study/NAME/trial/ID.

import { chart } from "./charts.js";
import { STATE_COLORS, act, clearPage, crumbs, el, fmt, getJson, main, progressBar, sortable, when } from "./dom.js";
import { showStudy } from "./study.js";

async function showStudies() {
  crumbs.replaceChildren();
  const { studies } = await getJson("/api/studies");
  const search = el("input", { type: "search", placeholder: "search by name or algorithm", id: "study-search" });
  const table = el("table", { id: "studies" });
  const columns = [
    { title: "study", value: (s) => s.name },
    { title: "algorithm", value: (s) => s.algorithm },
    { title: "objectives", value: (s) => s.objectives.map((o) => o.metric).join(", ") },
    { title: "state", value: (s) => s.state + (s.paused ? " (paused)" : "") },
    { title: "progress", value: (s) => Object.values(s.counts).reduce((a, b) => a + b, 0) },
    { title: "best", value: (s) => (s.best ? s.best.value : null) },
    { title: "recommended", value: (s) => (recommended[s.name] ? recommended[s.name].trial.id : null) },
    { title: "created", value: (s) => s.created },
    { title: "updated", value: (s) => s.updated },
  ];
  const recommended = {};
  const recommendedCell = (s) => {
    const r = recommended[s.name];
    if (!r) return el("td", { "data-recommended": "" });
    const estimate = r.estimate !== undefined ? ` (model ${fmt(r.estimate)})` : "";
    const params = Object.entries(r.trial.params).map(([k, v]) => `${k}=${fmt(v)}`).join(", ");
    return el("td", { "data-recommended": r.trial.id, title: params },
      el("a", { href: `#/study/${encodeURIComponent(s.name)}/trial/${r.trial.id}` }, `trial ${r.trial.id}`), estimate);
  };
  const render = (s) => el("tr", { "data-study": s.name },
    el("td", {}, el("a", { href: `#/study/${encodeURIComponent(s.name)}` }, s.name)),
    el("td", {}, s.algorithm),
    el("td", {}, s.objectives.map((o) => `${o.goal} ${o.metric}`).join(", ")),
    el("td", {}, s.state + (s.paused ? " (paused)" : "")),
    el("td", {}, el("div", { class: "progress" }, progressBar(s.counts, s.max_trials),
      `${Object.values(s.counts).reduce((a, b) => a + b, 0)} / ${s.max_trials || "∞"}`)),
    s.objectives.length > 1
      ? el("td", { class: "muted", title: "several objectives: see the Pareto front" }, "front")
      : el("td", { class: "num", "data-best": s.best ? s.best.value : "" }, s.best ? fmt(s.best.value) : ""),
    recommendedCell(s),
    el("td", {}, when(s.created)),
    el("td", {}, when(s.updated)));
  let shown = studies;
  const draw = () => sortable(table, shown, columns, render);
  search.addEventListener("input", () => {
    const needle = search.value.toLowerCase();
    shown = studies.filter((s) => `${s.name} ${s.algorithm}`.toLowerCase().includes(needle));
    draw();
  });
  main.replaceChildren(el("h1", {}, `Studies (${studies.length})`), el("div", { class: "filters" }, search),
    el("div", { class: "tablewrap" }, table));
  draw();
  fillRecommendations(studies, recommended, recommendedCell);
}

// The model's picks, one study after another once the list is on screen: each may cost
// the server a fit, and none holds the page.
async function fillRecommendations(studies, recommended, cell) {
  const page = main.firstChild;
  for (const study of studies) {
    if (study.objectives.length > 1 || !study.counts.COMPLETED) continue;
    let answer;
    try { answer = await getJson(`/api/studies/${encodeURIComponent(study.name)}/recommended`); } catch (error) { continue; }
    if (main.firstChild !== page) return; // the reader went elsewhere
    if (!answer.trial) continue;
    recommended[study.name] = answer;
    const row = document.querySelector(`tr[data-study="${CSS.escape(study.name)}"]`);
    if (row) row.querySelector("td[data-recommended]").replaceWith(cell(study));
  }
}

async function showTrial(name, id) {
  const studyLink = `#/study/${encodeURIComponent(name)}`;
  crumbs.replaceChildren(el("a", { href: "#/" }, "studies"), " / ", el("a", { href: studyLink }, name), ` / trial ${id}`);
  const trial = await getJson(`/api/studies/${encodeURIComponent(name)}/trials/${id}`);
  const facts = el("dl", { class: "facts", id: "trial-facts" });
  const add = (term, value) => facts.append(el("dt", {}, term), el("dd", {}, value));
  add("state", el("span", { class: `state ${trial.state}` }, trial.state));
  if (trial.reason) add("reason", trial.reason);
  add("value", fmt(trial.value) + (trial.violates ? " (violates constraints)" : ""));
  add("worker", trial.worker);
  add("created", when(trial.created));
  if (trial.finished) add("finished", when(trial.finished));
  if (trial.lease_expires && trial.state === "PENDING") add("lease ends", when(trial.lease_expires));
  const params = el("table", { id: "trial-params" }, el("tbody", {}, Object.entries(trial.params).map(([k, v]) =>
    el("tr", {}, el("th", {}, k), el("td", { class: "num" }, fmt(v))))));
  const metrics = el("table", { id: "trial-metrics" }, el("tbody", {}, Object.entries(trial.metrics).map(([k, v]) =>
    el("tr", {}, el("th", {}, k), el("td", { class: "num" }, fmt(v))))));
  const curve = el("div", { class: "chart", id: "chart-trial-curve" });
  const stop = trial.state === "PENDING"
    ? el("button", { id: "stop-trial", onclick: () => act(name, "stop", { trial: trial.id }) }, "Stop this trial") : null;
  main.replaceChildren(el("h1", {}, `Trial ${trial.id} of ${name}`),
    el("div", { class: "grid" },
      el("div", { class: "panel" }, facts, stop),
      el("div", { class: "panel" }, el("h2", {}, "Parameters"), params, el("h2", {}, "Metrics"), metrics)),
    trial.curve.length ? el("div", { class: "panel" }, el("h2", {}, `Learning curve: ${trial.curve.length} reports`), curve) : null);
  if (trial.curve.length) chart(curve, {
    xAxis: { type: "value", name: "step", minInterval: 1 }, yAxis: { type: "value", scale: true },
    tooltip: { trigger: "axis" },
    series: [{ type: "line", data: trial.curve, itemStyle: { color: STATE_COLORS[trial.state] } }],
  });
}

async function route() {
  clearPage();
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  try {
    if (parts[0] === "study" && parts[2] === "trial") await showTrial(parts[1], Number(parts[3]));
    else if (parts[0] === "study" && parts[1]) await showStudy(parts[1]);
    else await showStudies();
    main.dataset.ready = "true";
  } catch (error) {
    main.replaceChildren(el("p", { class: "FAILED", id: "error" }, error.message));
    main.dataset.ready = "true";
  }
}

window.addEventListener("hashchange", route);
route();
