// The page's small tools: building elements, numbers, messages, the JSON API, page lifecycle.

export const main = document.getElementById("main");
export const crumbs = document.getElementById("crumbs");
const tokenBox = document.getElementById("token");
export const STATE_COLORS = {
  COMPLETED: "#15803d", PRUNED: "#d97706", PENDING: "#2563eb",
  FAILED: "#b91c1c", INFEASIBLE: "#9f1239", STALE: "#9ca3af",
};
const leaving = new Set();

tokenBox.value = sessionStorage.getItem("hyperdial-token") || "";
tokenBox.addEventListener("change", () => sessionStorage.setItem("hyperdial-token", tokenBox.value));

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== null && value !== undefined) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

export function fmt(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value);
    return Math.abs(value) >= 1e4 || Math.abs(value) < 1e-3 ? value.toExponential(3) : value.toPrecision(4);
  }
  return String(value);
}

// Axis labels: three significant digits, exponents for small values ("1e-4", "0.01", "250").
export function tick(value) {
  if (typeof value !== "number") return String(value);
  if (value !== 0 && Math.abs(value) < 1e-3) return value.toExponential(0);
  return String(Number(value.toPrecision(3)));
}

/** An ISO time as the pages show it: "2026-11-28 15:57:34 UTC". */
export function when(iso) {
  return iso ? `${iso.replace("T", " ").slice(0, 19)} UTC` : "";
}

export function toast(text) {
  const box = document.getElementById("toast");
  box.textContent = text;
  box.classList.add("show");
  setTimeout(() => box.classList.remove("show"), 3000);
}

export async function getJson(path) {
  const response = await fetch(path);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

export async function act(study, action, body = {}) {
  const headers = { "content-type": "application/json" };
  if (tokenBox.value) headers.authorization = `Bearer ${tokenBox.value}`;
  const response = await fetch(`/api/studies/${encodeURIComponent(study)}/${action}`, {
    method: "POST", headers, body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) {
    toast(`${action}: ${answer.error}`);
    return null;
  }
  toast(`${action}: done`);
  return answer;
}

/** Runs `callback` when the reader leaves the page (a poller to stop, charts to free). */
export function onLeave(callback) {
  leaving.add(callback);
}

export function clearPage() {
  leaving.forEach((callback) => callback());
  leaving.clear();
  main.replaceChildren();
  delete main.dataset.ready;
}

export function progressBar(counts, budget) {
  const total = Math.max(budget || 0, Object.values(counts).reduce((a, b) => a + b, 0), 1);
  const bar = el("div", { class: "bar", title: JSON.stringify(counts) });
  for (const state of ["COMPLETED", "PRUNED", "INFEASIBLE", "FAILED", "STALE", "PENDING"]) {
    if (counts[state]) {
      bar.append(el("span", { style: `width:${(100 * counts[state]) / total}%;background:${STATE_COLORS[state]}` }));
    }
  }
  return bar;
}

export function sortable(table, rows, columns, render) {
  let key = null;
  let descending = false;
  const body = el("tbody");
  const draw = () => {
    const ordered = [...rows];
    if (key !== null) {
      ordered.sort((a, b) => {
        const x = columns[key].value(a);
        const y = columns[key].value(b);
        if (x === y) return 0;
        if (x === null || x === undefined) return 1;
        if (y === null || y === undefined) return -1;
        return (x < y ? -1 : 1) * (descending ? -1 : 1);
      });
    }
    body.replaceChildren(...ordered.map(render));
  };
  const head = el("tr", {}, columns.map((column, index) => el("th", {
    onclick: (event) => {
      descending = key === index ? !descending : false;
      key = index;
      head.querySelectorAll("th").forEach((th) => th.classList.remove("sorted", "desc"));
      event.target.classList.add("sorted");
      if (descending) event.target.classList.add("desc");
      draw();
    },
  }, column.title)));
  table.replaceChildren(el("thead", {}, head), body);
  draw();
  return draw;
}
