// A study's page: its facts, actions, charts and trials table, kept live.

import { drawCharts } from "./charts.js";
import { STATE_COLORS, act, crumbs, el, fmt, getJson, main, onLeave, progressBar, toast, when } from "./dom.js";

const POLL_MS = 500;

function studyHeader(study) {
  const facts = el("dl", { class: "facts", id: "study-facts" });
  const add = (term, value, id) => facts.append(el("dt", {}, term), el("dd", id ? { id } : {}, value));
  add("state", study.state + (study.paused ? " (paused)" : ""), "fact-state");
  add("algorithm", study.algorithm);
  add("objectives", study.objectives.map((o) => `${o.goal} ${o.metric}`).join(", "));
  add("trials", el("div", { class: "actions" }, progressBar(study.counts, study.max_trials),
    Object.entries(study.counts).map(([k, v]) => `${k} ${v}`).join(", ") || "none",
    ` of ${study.max_trials || "∞"}`, study.queued ? `; ${study.queued} queued` : ""), "fact-trials");
  if (study.steps || study.step_budget) {
    const budget = study.step_budget ? `; ${study.steps_reserved} granted to running trials, of ${study.step_budget}` : "";
    add("steps", `${study.steps} reported over all trials (the epochs trained)${budget}`, "fact-steps");
  }
  if (study.best) add("best", `trial ${study.best.id}: ${fmt(study.best.value)}`, "fact-best");
  if (study.objectives.length === 1) add("recommended", el("span", { class: "muted" }, "asking the model…"), "fact-recommended");
  add("created", when(study.created));
  add("updated", when(study.updated), "fact-updated");
  return facts;
}

// The model's pick can take the server a fit: it fills in when it comes, never holding the page.
async function showRecommendation(name) {
  const r = await getJson(`/api/studies/${encodeURIComponent(name)}/recommended`);
  const holder = document.getElementById("fact-recommended");
  if (!holder) return;
  if (!r.trial) {
    holder.replaceChildren(el("span", { class: "muted" }, r.reason || "none yet"));
    return;
  }
  const estimate = r.estimate !== undefined ? ` (model: ${fmt(r.estimate)} ± ${fmt(r.estimate_sd)})` : "";
  holder.replaceChildren(el("a", { href: `#/study/${encodeURIComponent(name)}/trial/${r.trial.id}` },
    `trial ${r.trial.id}`), `: observed ${fmt(r.trial.value)}${estimate}; ${r.reason}`);
}

// Built once per visit: live updates change the pause button and an idle budget box only,
// never what the user is typing.
function studyActions(name, parameters, reload) {
  let current = null;
  const pause = el("button", { id: "pause", onclick: () => act(name, current.paused ? "resume" : "pause").then((done) => done && reload()) }, "Pause");
  const budget = el("input", { type: "number", min: "0", style: "width:6rem", id: "budget" });
  const queue = el("textarea", { rows: "2", cols: "60", id: "enqueue-text",
    placeholder: '[{"' + parameters.join('": …, "') + '": …}]' });
  const panel = el("div", { class: "panel" }, el("h2", {}, "Actions"), el("div", { class: "actions" },
    pause, el("span", {}, "budget"), budget,
    el("button", { id: "set-budget", onclick: () => act(name, "budget", { max_trials: Number(budget.value) }).then((done) => done && reload()) }, "Set"),
    queue,
    el("button", { id: "enqueue", onclick: () => {
      let configurations;
      try { configurations = JSON.parse(queue.value); } catch (error) { toast(`enqueue: not JSON: ${error.message}`); return; }
      if (!Array.isArray(configurations)) configurations = [configurations];
      act(name, "enqueue", { configurations }).then((done) => { if (done) { queue.value = ""; reload(); } });
    } }, "Enqueue")));
  const update = (study) => {
    current = study;
    pause.id = study.paused ? "resume" : "pause";
    pause.textContent = study.paused ? "Resume" : "Pause";
    pause.className = study.paused ? "primary" : "";
    if (document.activeElement !== budget) budget.value = study.max_trials;
  };
  return { panel, update };
}

function trialsTable(study) {
  const query = { offset: 0, limit: 50, sort: "id", order: "desc", states: new Set(), ranges: {} };
  const table = el("table", { id: "trials" });
  const summary = el("span", { id: "trials-summary", class: "muted" });
  const filters = el("div", { class: "filters" });
  for (const state of Object.keys(STATE_COLORS)) {
    const box = el("input", { type: "checkbox", value: state, onchange: () => {
      if (box.checked) query.states.add(state); else query.states.delete(state);
      query.offset = 0; load();
    } });
    filters.append(el("label", { class: `state ${state}` }, box, state));
  }
  for (const axis of study.axes) {
    const hint = axis.kind === "categorical" ? `=${axis.choices.join("|")}` : "low:high";
    const input = el("input", { class: "range", placeholder: `${axis.name} ${hint}`, "data-parameter": axis.name,
      onchange: () => { query.ranges[axis.name] = input.value.trim(); query.offset = 0; load(); } });
    filters.append(input);
  }
  // One objective: its value. Several: each objective's metric. Then constrained metrics.
  const metrics = [...(study.objectives.length > 1 ? study.objectives.map((o) => o.metric) : []), ...study.constraints];
  const columns = ["id", "state", ...(study.objectives.length > 1 ? [] : ["value"]), ...metrics, "worker", ...study.parameters];
  const pager = el("div", { class: "pager" });
  async function load() {
    const params = new URLSearchParams({ offset: query.offset, limit: query.limit, sort: query.sort, order: query.order });
    query.states.forEach((s) => params.append("state", s));
    Object.entries(query.ranges).filter(([, v]) => v).forEach(([k, v]) => params.append("range", `${k}:${v}`));
    let page;
    try { page = await getJson(`/api/studies/${encodeURIComponent(study.name)}/trials?${params}`); } catch (error) { toast(error.message); return; }
    const head = el("tr", {}, columns.map((column) => el("th", {
      class: query.sort === column ? `sorted${query.order === "desc" ? " desc" : ""}` : "",
      onclick: () => { query.order = query.sort === column && query.order === "asc" ? "desc" : "asc"; query.sort = column; query.offset = 0; load(); },
    }, column)));
    const rows = page.rows.map((t) => el("tr", { "data-trial": t.id },
      el("td", { class: "num" }, el("a", { href: `#/study/${encodeURIComponent(study.name)}/trial/${t.id}` }, t.id)),
      el("td", { class: `state ${t.state}`, title: t.violates ? "violates the constraints" : null }, t.state + (t.violates ? " ✗" : "")),
      study.objectives.length > 1 ? null : el("td", { class: "num" }, fmt(t.value)),
      metrics.map((m) => el("td", { class: "num" }, fmt(t.metrics[m]))),
      el("td", {}, t.worker),
      study.parameters.map((name) => el("td", { class: "num" }, name in t.params ? fmt(t.params[name]) : "—"))));
    table.replaceChildren(el("thead", {}, head), el("tbody", {}, rows));
    const last = Math.min(page.offset + page.rows.length, page.total);
    summary.textContent = `${page.total ? page.offset + 1 : 0}-${last} of ${page.total} trials`;
    pager.replaceChildren(
      el("button", { id: "previous", onclick: () => { query.offset = Math.max(0, query.offset - query.limit); load(); } }, "‹ previous"),
      summary,
      el("button", { id: "next", onclick: () => { if (last < page.total) { query.offset += query.limit; load(); } } }, "next ›"));
  }
  const panel = el("div", { class: "panel" }, el("h2", {}, "Trials"), filters, el("div", { class: "tablewrap" }, table), pager);
  return { panel, load };
}

export async function showStudy(name) {
  const link = `#/study/${encodeURIComponent(name)}`;
  crumbs.replaceChildren(el("a", { href: "#/" }, "studies"), " / ", el("a", { href: link }, name));
  let study = await getJson(`/api/studies/${encodeURIComponent(name)}`);
  const header = el("div", { class: "panel" });
  const actions = studyActions(name, study.parameters, () => refresh());
  const chartsHolder = el("div", { class: "grid", id: "charts" });
  const table = trialsTable(study);
  const redraw = async () => {
    header.replaceChildren(el("h1", {}, `Study ${study.name}`), studyHeader(study));
    actions.update(study);
    if (study.objectives.length === 1) showRecommendation(name).catch((error) => toast(error.message));
    const [data] = await Promise.all([getJson(`/api/studies/${encodeURIComponent(name)}/charts`), table.load()]);
    drawCharts(study, data, chartsHolder);
    main.dataset.version = study.version;
  };
  const refresh = async () => {
    study = await getJson(`/api/studies/${encodeURIComponent(name)}`);
    await redraw();
  };
  main.replaceChildren(header, actions.panel, chartsHolder, table.panel);
  await redraw();
  let busy = false;
  const poller = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      const { version } = await getJson(`/api/studies/${encodeURIComponent(name)}/version`);
      if (version !== study.version) await refresh();
    } catch (error) { /* the next poll tries again */ } finally { busy = false; }
  }, POLL_MS);
  onLeave(() => clearInterval(poller));
}
