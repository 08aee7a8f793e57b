// pyonep_fast portal. Every piece of data reaches the page as text (textContent,
// text nodes): nothing from the server is ever parsed as HTML.
"use strict";

const API = "/portal/api/";

// --- DOM helpers ------------------------------------------------------------------
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-") || key === "role" || key === "aria-label") node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function clear(node) { node.replaceChildren(); return node; }

function when(t) { return t === null || t === undefined ? "" : new Date(Math.round(t * 1000)).toISOString().replace(".000Z", "Z"); }

class SignedOut extends Error {}

async function get(path) {
  const response = await fetch(API + path, { credentials: "same-origin" });
  if (response.status === 401) { showSignIn((await response.json()).error); throw new SignedOut(); }
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
  return answer;
}

async function post(path, body) {
  const response = await fetch(API + path, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  return { ok: response.ok, status: response.status, answer: await response.json() };
}

// --- sign-in ------------------------------------------------------------------------
const state = { apis: [], session: null, pages: null, activity: null };

async function start() {
  state.apis = await (await fetch(API + "apis")).json();
  const select = clear(document.getElementById("signin-api"));
  for (const api of state.apis) select.append(el("option", { value: api.name }, api.title));
  select.addEventListener("change", labelCredential);
  labelCredential();
  document.getElementById("signin-form").addEventListener("submit", signIn);
  document.getElementById("signout").addEventListener("click", signOut);
  document.getElementById("activity-open").addEventListener("click", () => showActivity().catch(report));
  document.getElementById("tree").addEventListener("click", closeActivity, true);
  const response = await fetch(API + "session", { credentials: "same-origin" });
  if (response.ok) enter(await response.json()); else showSignIn("");
}

function selectedApi() { return state.apis.find((a) => a.name === document.getElementById("signin-api").value); }

// One password input for a credential that is one string, else an input per field (EXP's user).
function labelCredential() {
  const api = selectedApi();
  document.getElementById("signin-label").textContent = api ? `${api.title} ${api.credential}` : "Credential";
  const single = document.getElementById("signin-credential");
  const fields = clear(document.getElementById("signin-fields"));
  const several = Boolean(api && api.fields);
  document.getElementById("signin-single").hidden = several;
  single.required = !several;
  fields.hidden = !several;
  for (const [name, label, type] of several ? api.fields : []) {
    fields.append(el("label", {}, `${api.title} ${label.toLowerCase()}`,
      el("input", { id: `signin-${name}`, type, spellcheck: false, required: true, "data-field": name })));
  }
}

function credentialOf(api) {
  if (!api || !api.fields) return document.getElementById("signin-credential").value;
  return Object.fromEntries(api.fields.map(([name]) => [name, document.getElementById(`signin-${name}`).value]));
}

function clearCredential() {
  for (const input of document.querySelectorAll("#signin-form input")) input.value = "";
}

function showSignIn(message) {
  if (state.pages) state.pages.close();
  closeActivity();
  state.pages = null;
  document.getElementById("app").hidden = true;
  document.getElementById("signout").hidden = true;
  document.getElementById("activity-open").hidden = true;
  document.getElementById("who").textContent = "";
  document.getElementById("signin").hidden = false;
  document.getElementById("signin-error").textContent = message || "";
  const first = document.querySelector("#signin-form label:not([hidden]) input");
  if (first) first.focus();
}

async function signIn(event) {
  event.preventDefault();
  const api = selectedApi();
  const { ok, answer } = await post("session", { api: api && api.name, credential: credentialOf(api) });
  clearCredential();
  if (!ok) { document.getElementById("signin-error").textContent = answer.error; return; }
  enter(answer);
}

async function signOut() {
  await post("signout", {});
  showSignIn("Signed out.");
}

function enter(session) {
  state.session = session;
  document.getElementById("signin").hidden = true;
  document.getElementById("app").hidden = false;
  document.getElementById("signout").hidden = false;
  document.getElementById("activity-open").hidden = false;
  const api = state.apis.find((a) => a.name === session.api);
  document.getElementById("who").textContent = `${api ? api.title : session.api}: ${session.label}`;
  state.pages = new PAGES[session.api](document.getElementById("tree"), document.getElementById("detail"));
  state.pages.open().catch(report);
}

function report(error) {
  if (error instanceof SignedOut) return;
  const detail = document.getElementById("detail");
  detail.prepend(el("p", { class: "error", role: "alert" }, error.message));
}

// --- server activity: requests/s and latency percentiles per API, live ---------------------
function closeActivity() {
  if (state.activity) state.activity.close();
  state.activity = null;
}

async function showActivity() {
  closeActivity();
  if (state.pages) state.pages.close();
  for (const b of document.querySelectorAll("#tree .node")) b.classList.remove("selected");
  const detail = clear(document.getElementById("detail"));
  const status = el("p", { class: "status", id: "activity-status" }, "connecting …");
  const rates = el("div", { id: "activity-chart" });
  const figures = el("table", { id: "activity" });
  const ingestsTitle = el("h3", { id: "ingests-title", hidden: true }, "Bulk ingests");
  const ingests = el("table", { id: "ingests", hidden: true });
  detail.append(el("h2", { id: "resource-name" }, "Server activity"), status, rates, figures, ingestsTitle, ingests);
  let plot = null, plotted = "";
  const draw = (snapshot) => {
    const apis = Object.keys(snapshot.apis);
    clear(figures).append(el("tr", {}, ...["API", "requests/s", "requests", "p50 ms", "p90 ms", "p99 ms"].map((h) => el("th", {}, h))));
    const ms = (value) => value === null ? "—" : value.toFixed(value < 10 ? 2 : 1);
    for (const api of apis) {
      const a = snapshot.apis[api];
      figures.append(el("tr", { "data-api": api }, el("td", {}, api), el("td", { class: "value" }, String(a.rate)),
        el("td", { class: "value" }, String(a.total)), el("td", { class: "value" }, ms(a.p50)),
        el("td", { class: "value" }, ms(a.p90)), el("td", { class: "value" }, ms(a.p99))));
    }
    const now = Math.floor(Date.now() / 1000);
    const data = [snapshot.apis[apis[0]] ? snapshot.apis[apis[0]].history.map((_, i) => now - snapshot.seconds + i) : [],
                  ...apis.map((api) => snapshot.apis[api].history)];
    if (plotted !== apis.join("\n")) {
      if (plot) plot.destroy();
      plotted = apis.join("\n");
      const colors = ["#1f6feb", "#1a7f37", "#b42318", "#8250df", "#bf8700", "#0a7f8f"];
      plot = new uPlot({ width: Math.max(300, detail.clientWidth - 40), height: 220, scales: { x: { time: true } },
        series: [{}, ...apis.map((api, i) => ({ label: `${api} req/s`, stroke: colors[i % colors.length], width: 1 }))] },
        data, rates);
    } else plot.setData(data);
    status.textContent = `live · requests per second over the last ${snapshot.seconds} s; ` +
      `latency percentiles over the last ${snapshot.window} s`;
    drawIngests(ingests, snapshot.ingests);
    ingestsTitle.hidden = ingests.hidden;
  };
  draw(await get("activity"));
  const events = new EventSource(`${API}activity/events`);
  events.onmessage = (message) => draw(JSON.parse(message.data));
  events.addEventListener("end", () => { events.close(); status.textContent = "live view ended: sign in again"; });
  state.activity = { close: () => { events.close(); if (plot) plot.destroy(); } };
}

// Bulk ingests followed through their checkpoint files: a row each, or the reason a file is none.
const INGEST_COLUMNS = ["Checkpoint", "Input", "Target", "Points", "Progress", "Rate", "ETA", "Refused", "Errors", "State"];

function count(n) { return n.toLocaleString("en-US"); }

function duration(seconds) {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor(s / 60) % 60).padStart(2, "0")} min`;
}

function drawIngests(table, rows) {
  table.hidden = !rows || rows.length === 0;
  clear(table).append(el("tr", {}, ...INGEST_COLUMNS.map((h) => el("th", {}, h))));
  for (const row of rows || []) {
    if (row.problem !== undefined) {
      table.append(el("tr", { "data-checkpoint": row.checkpoint, class: "unreadable" }, el("td", {}, row.checkpoint),
        el("td", { colSpan: INGEST_COLUMNS.length - 1, class: "error" }, `unreadable: ${row.problem}`)));
      continue;
    }
    const api = state.apis.find((a) => a.name === row.api);
    const bar = el("progress", { max: 1 });
    if (row.fraction !== null) bar.value = row.fraction;
    const shown = row.fraction === null ? "—" : `${(row.fraction * 100).toFixed(1)} %`;
    table.append(el("tr", { "data-checkpoint": row.checkpoint, class: row.state },
      el("td", {}, row.checkpoint), el("td", {}, row.input), el("td", {}, `${api ? api.title : row.api} ${row.target}`),
      el("td", { class: "value" }, count(row.points)), el("td", { class: "progress" }, bar, " ", shown),
      el("td", { class: "value" }, row.rate === null ? "—" : `${count(Math.round(row.rate))} points/s`),
      el("td", { class: "value" }, row.eta === null ? "—" : duration(row.eta)),
      el("td", { class: "value" }, count(row.refused)), el("td", { class: "value" }, count(row.errors)),
      el("td", { class: "state" }, row.state)));
  }
}

// --- a chart of one series: uPlot over server-downsampled ranges ------------------------
const RANGES = [["All", null], ["1 h", 3600], ["1 d", 86400], ["1 w", 7 * 86400], ["30 d", 30 * 86400]];

class SeriesChart {
  // source(start, end, width) -> {t, v, count, exact, first, last, start, end}; first/last bound the data,
  // a start or end of null is the first or newest point (start and end say which).
  constructor(container, status, source, meta) {
    this.container = container;
    this.status = status;
    this.source = source;
    this.first = meta.first;
    this.last = meta.last;
    this.requested = 0;     // sequence of range requests; an older answer is dropped
    this.view = [meta.first, meta.last];
    this.following = true;  // the view ends at the newest point and moves with it
    this.applying = false;  // our own setScale (not the user's)
    this.metrics = [];      // {what, ms, count, points} per range drawn (for tests and bench/)
    this.plot = new uPlot({
      width: Math.max(300, container.clientWidth - 2), height: 360,
      scales: { x: { time: true } },
      cursor: { drag: { x: true, y: false, setScale: true } },
      series: [{}, { label: meta.label, stroke: "#1f6feb", width: 1, points: { show: false } }],
      hooks: { setScale: [(u, key) => { if (key === "x") this.userScaled(u); }] },
    }, [[], []], container);
    this.plot.over.addEventListener("wheel", (e) => this.wheel(e), { passive: false });
    this.resizer = new ResizeObserver(() => this.plot.setSize({ width: Math.max(300, container.clientWidth - 2),
                                                               height: 360 }));
    this.resizer.observe(container);
  }

  // Draws start..end (null: from the first point, to the newest, as stored when it is read).
  async show(start, end, what) {
    const seq = ++this.requested;
    const began = performance.now();
    this.status.textContent = "loading …";
    const width = Math.round(this.plot.bbox.width / devicePixelRatio) || this.container.clientWidth;
    const data = await this.source(start, end, width);
    if (seq !== this.requested) return;
    if (start === null) start = data.start;
    if (end === null) end = data.end;
    this.view = [start, end];
    this.first = data.first;
    this.last = data.last;
    this.following = end >= data.last;
    this.data = [data.t, data.v];
    this.applying = true;
    this.plot.batch(() => {
      this.plot.setData(this.data, false);
      this.plot.setScale("x", { min: start, max: Math.max(end, start + 1) });
    });
    this.applying = false;
    await new Promise(requestAnimationFrame);   // drawn: uPlot commits in a microtask, the frame paints it
    const ms = performance.now() - began;
    this.metrics.push({ what, ms, count: data.count, points: data.t.length });
    this.container.dataset.drawn = String(this.metrics.length);
    this.status.textContent = `${data.count.toLocaleString()} points from ${when(start)} to ${when(end)}` +
      (data.t.length < data.count ? ` (min/max per pixel column: ${data.t.length.toLocaleString()} drawn)` : "") +
      ` · ${ms.toFixed(0)} ms`;
    if (this.missed) { this.missed = false; this.reload(); }
  }

  userScaled(u) {
    if (this.applying) return;
    const { min, max } = u.scales.x;
    if (min === null || max === null) return;
    this.show(Math.floor(min), Math.ceil(max), "zoom").catch(report);
  }

  wheel(event) {
    event.preventDefault();
    const [start, end] = this.view;
    const at = this.plot.posToVal(event.offsetX, "x");
    if (event.shiftKey) { this.pan(Math.sign(event.deltaY) * 0.25); return; }
    const factor = event.deltaY < 0 ? 0.5 : 2;
    const lo = Math.floor(at - (at - start) * factor), hi = Math.ceil(at + (end - at) * factor);
    this.show(Math.max(lo, this.first), Math.min(hi, Math.max(this.last, lo + 2)), "zoom").catch(report);
  }

  pan(fraction) {
    const [start, end] = this.view;
    const shift = Math.round((end - start) * fraction) || Math.sign(fraction);
    this.show(start + shift, end + shift, "pan").catch(report);
  }

  zoomOut() {
    const [start, end] = this.view;
    const half = Math.max(1, Math.round((end - start) / 2));
    this.show(Math.max(this.first, start - half), Math.min(this.last, end + half), "zoom").catch(report);
  }

  // An update of the live stream: its newest points are appended when the view follows the end
  // and the update holds every point it announces; otherwise the range is read again, as it is
  // (whether the view follows or not) when values went away, or once the first range is drawn
  // when it came before that.
  live(update) {
    const wasLast = this.last;
    if (update.points.length) {
      const [t, v] = update.points[update.points.length - 1];
      this.last = Math.max(this.last, t);
      this.container.dataset.liveT = String(t);
      this.container.dataset.liveV = String(v);
    }
    if (!this.data) { this.missed = true; return; }
    if (!(update.changed || (this.following && update.points.length))) return;
    if (!update.changed && update.count === update.points.length && update.points[0][0] > wasLast &&
        this.data[0].length + update.count <= 4 * this.plot.bbox.width) {
      const start = this.view[0];
      for (const [t, v] of update.points) { this.data[0].push(t); this.data[1].push(v); }
      this.view = [start, this.last];
      this.applying = true;
      this.plot.batch(() => {
        this.plot.setData(this.data, false);
        this.plot.setScale("x", { min: start, max: Math.max(this.last, start + 1) });
      });
      this.applying = false;
      this.container.dataset.shownT = String(this.last);
      return;
    }
    this.reload();
  }

  // Many points or changes at once: one reload at a time, to the newest point when the view follows the end.
  reload() {
    if (this.reloading) return;
    this.reloading = true;
    setTimeout(() => {
      this.reloading = false;
      this.show(this.view[0], this.following ? null : this.view[1], "live").then(() => {
        this.container.dataset.shownT = String(this.last);
      }).catch(report);
    }, 250);
  }

  close() { this.resizer.disconnect(); this.plot.destroy(); }
}

// The chart area of a series page: toolbar, chart, status line and live value.
function seriesView(detail) {
  const view = { toolbar: el("div", { class: "toolbar" }), chartNode: el("div", { id: "chart" }),
                 status: el("span", { class: "status", id: "chart-status" }),
                 live: el("span", { class: "live", id: "live-value" }) };
  detail.append(view.toolbar, view.chartNode,
    el("div", { class: "toolbar" }, view.status, el("span", { class: "spacer" }), view.live));
  return view;
}

// A SeriesChart in a seriesView with its range, pan and zoom buttons (every API's charts).
function openChart(view, meta, label, source) {
  const chart = new SeriesChart(view.chartNode, view.status, source, { first: meta.first, last: meta.last, label });
  window.portalChart = chart;
  const buttons = [];
  for (const [name, seconds] of RANGES) {
    const button = el("button", { type: "button", "data-range": name }, name);
    button.addEventListener("click", () => chart.show(seconds ? Math.max(chart.first, chart.last - seconds) : chart.first,
                                                       chart.last, "range").catch(report));
    buttons.push(button);
  }
  for (const [name, id, act] of [["◀", "pan-left", () => chart.pan(-0.5)], ["▶", "pan-right", () => chart.pan(0.5)],
                                 ["zoom out", "zoom-out", () => chart.zoomOut()]]) {
    const button = el("button", { type: "button", id }, name);
    button.addEventListener("click", act);
    buttons.push(button);
  }
  view.toolbar.prepend(...buttons, el("span", { class: "spacer" }));
  return chart;
}

// A series page of any API (a dataport, an M2X stream) in `area`: its chart (a numeric series with
// points: from the page's opening, or from its first live value) or a status line, a CSV link of the
// shown range and live updates. query(what) is the API's path of the series for "chart", "csv" and
// "events" (e.g. "onep/chart?rid=…").
class SeriesPage {
  constructor(area, label, query) {
    this.area = area;
    this.label = label;
    this.query = query;
    this.chart = this.events = null;
    this.closed = false;
  }

  async open() {
    const query = this.query;
    const meta = await get(`${query("chart")}&width=0`);
    if (this.closed) return;
    const view = this.view = seriesView(this.area);
    this.csv = el("a", { class: "button", id: "csv", href: API + query("csv") }, "Download CSV");
    view.toolbar.append(this.csv);
    if (meta.numeric && meta.total) await this.showChart(meta.first, meta.last);
    else {
      view.chartNode.hidden = true;
      view.status.textContent = meta.total ? `${meta.total.toLocaleString()} text values (no chart)` : "No points yet.";
    }
    if (this.closed) return;
    const events = this.events = new EventSource(API + query("events"));
    events.onopen = () => { view.live.dataset.state = "open"; };   // watching: every later write shows
    events.onmessage = (message) => {
      const update = JSON.parse(message.data);
      if (update.points.length) {
        const [t, v] = update.points[update.points.length - 1];
        view.live.textContent = `live: ${v} at ${when(t)}`;
      }
      if (this.chart) this.chart.live(update);
      else if (meta.numeric && update.points.length) this.showChart(null, null).catch(report);   // its first values
    };
    events.addEventListener("end", () => {
      events.close();
      view.live.dataset.state = "ended";
      view.live.textContent = "live updates ended";
    });
  }

  // The chart from first to last (null: the first point, the newest one, as stored when it is read),
  // its range buttons, and the CSV link following its range.
  async showChart(first, last) {
    const { view, csv, query } = this;
    const range = (name, value) => value === null ? "" : `&${name}=${value}`;
    view.chartNode.hidden = false;
    const chart = this.chart = openChart(view, { first, last }, this.label,
      (start, end, width) => get(`${query("chart")}${range("start", start)}${range("end", end)}&width=${width}`));
    csv.addEventListener("click", () => {
      csv.href = `${API}${query("csv")}${range("start", chart.view[0])}${range("end", chart.view[1])}`;
    });
    await chart.show(first, last, "first");
  }

  close() {
    this.closed = true;
    if (this.chart) this.chart.close();
    if (this.events) this.events.close();
    this.chart = this.events = window.portalChart = null;
  }
}

// --- One Platform ----------------------------------------------------------------------
class OnepPages {
  constructor(treeNode, detailNode) {
    this.treeNode = treeNode;
    this.detailNode = detailNode;
    this.nodes = new Map();
    this.series = null;
  }

  async open() {
    const tree = await get("onep/tree");
    this.nodes.clear();
    const list = el("ul");
    list.append(this.item(tree.root));
    clear(this.treeNode).append(el("h3", {}, "My resources"), list);
    if (tree.shared.length) {
      const shared = el("ul");
      for (const node of tree.shared) shared.append(this.item(node));
      this.treeNode.append(el("h3", {}, "Shared with me"), shared);
    }
    if (tree.truncated) this.treeNode.append(el("p", { class: "status" }, "(the tree is cut short)"));
    await this.select(tree.root.rid);
  }

  item(node) {
    this.nodes.set(node.rid, node);
    const label = node.name || node.rid.slice(0, 12) + "…";
    const button = el("button", { type: "button", class: "node", "data-rid": node.rid, title: node.rid },
      el("span", { class: "badge" }, node.type), el("span", { class: "name" }, label),
      node.aliases.length ? el("span", { class: "alias" }, node.aliases.join(", ")) : null);
    button.addEventListener("click", () => this.select(node.rid).catch(report));
    const li = el("li", {}, button);
    if (node.children && node.children.length) {
      const ul = el("ul");
      for (const child of node.children) ul.append(this.item(child));
      li.append(ul);
    }
    return li;
  }

  close() {
    if (this.series) this.series.close();
    this.series = null;
  }

  async select(rid) {
    this.close();
    for (const b of this.treeNode.querySelectorAll(".node")) b.classList.toggle("selected", b.dataset.rid === rid);
    const node = this.nodes.get(rid);
    const detail = clear(this.detailNode);
    detail.append(el("h2", { id: "resource-name" }, node.name || "(no name)"),
      el("div", { class: "rid" }, `${node.type} · ${rid}`));
    if (node.aliases.length) detail.append(el("div", {}, "aliases: ", el("span", { class: "alias" }, node.aliases.join(", "))));
    if (node.type === "client") await this.clientPage(node, detail);
    else await this.dataPage(node, detail);
    const { info } = await get(`onep/info?rid=${rid}`);
    detail.append(el("h3", {}, "Description"), el("pre", { id: "description" }, JSON.stringify(info.description, null, 2)),
      el("h3", {}, "Info"), el("pre", { id: "info" }, JSON.stringify(
        Object.fromEntries(Object.entries(info).filter(([k]) => k !== "description")), null, 2)));
  }

  async clientPage(node, detail) {
    const { rows } = await get(`onep/latest?rid=${node.rid}`);
    detail.append(el("h3", {}, "Latest values"));
    if (!rows.length) { detail.append(el("p", { class: "status" }, "No dataports, datarules or dispatches.")); return; }
    const table = el("table", { id: "latest" }, el("tr", {}, el("th", {}, "Resource"), el("th", {}, "Type"),
      el("th", {}, "Alias"), el("th", {}, "Time"), el("th", {}, "Value")));
    for (const row of rows) {
      const open = el("button", { type: "button", class: "node" }, row.name || row.rid.slice(0, 12) + "…");
      open.addEventListener("click", () => this.select(row.rid).catch(report));
      table.append(el("tr", {}, el("td", {}, open), el("td", {}, row.type), el("td", { class: "alias" }, row.aliases.join(", ")),
        el("td", {}, row.point ? when(row.point[0]) : "—"),
        el("td", { class: "value" }, row.point ? String(row.point[1]) : "—")));
    }
    detail.append(table);
  }

  async dataPage(node, detail) {
    this.series = new SeriesPage(detail, node.name || node.rid, (what) => `onep/${what}?rid=${node.rid}`);
    await this.series.open();
  }
}

// --- M2X --------------------------------------------------------------------------------
// A table of rows (arrays of text or nodes) under a header row.
function table(id, headers, rows) {
  const node = el("table", { id }, el("tr", {}, ...headers.map((h) => el("th", {}, h))));
  for (const row of rows) node.append(el("tr", {}, ...row.map((cell) => el("td", {}, cell ?? "—"))));
  return node;
}

function text(value) { return value === null || value === undefined ? "—" : typeof value === "string" ? value : JSON.stringify(value); }

class M2XPages {
  constructor(treeNode, detailNode) {
    this.treeNode = treeNode;
    this.detailNode = detailNode;
    this.series = null;
  }

  async open() {
    const { devices, account } = await get("m2x/devices");
    const list = el("ul");
    for (const device of devices) {
      list.append(el("li", {}, this.node({ "data-device": device.id, title: device.id }, "device", device.name || device.id,
                                         () => this.devicePage(device.id))));
    }
    clear(this.treeNode).append(el("h3", {}, "Devices"), list);
    if (!devices.length) this.treeNode.append(el("p", { class: "status" }, "No devices."));
    if (account) {
      this.treeNode.append(el("h3", {}, "Account"), el("ul", {},
        el("li", {}, this.node({ "data-page": "keys" }, "keys", "Keys", () => this.keysPage())),
        el("li", {}, this.node({ "data-page": "commands" }, "commands", "Commands", () => this.commandsPage()))));
    }
    if (devices.length) await this.devicePage(devices[0].id);
    else if (account) await this.keysPage();
  }

  node(data, badge, label, open) {
    const button = el("button", { type: "button", class: "node", ...data },
      el("span", { class: "badge" }, badge), el("span", { class: "name" }, label));
    button.addEventListener("click", () => { this.mark(button); open().catch(report); });
    return button;
  }

  mark(button) { for (const b of this.treeNode.querySelectorAll(".node")) b.classList.toggle("selected", b === button); }

  close() {
    if (this.series) this.series.close();
    this.series = null;
  }

  begin(title, subtitle) {
    this.close();
    clear(this.detailNode).append(el("h2", { id: "resource-name" }, title), el("div", { class: "rid" }, subtitle));
    return this.detailNode;
  }

  async devicePage(id) {
    const { device, streams, commands } = await get(`m2x/device?id=${encodeURIComponent(id)}`);
    this.mark(this.treeNode.querySelector(`.node[data-device="${CSS.escape(id)}"]`));
    const detail = this.begin(device.name || "(no name)", `device · ${device.id}`);
    detail.append(table("device-fields", ["Field", "Value"], ["description", "status", "visibility", "serial", "tags",
      "key", "last_activity", "created"].map((field) => [field, text(device[field])])));
    detail.append(el("h3", {}, "Streams"));
    const chartArea = el("div", { id: "stream-chart" });
    detail.append(table("streams", ["Stream", "Type", "Unit", "Latest value", "At"], streams.map((stream) => {
      const open = el("button", { type: "button", class: "stream", "data-stream": stream.name }, stream.display_name || stream.name);
      open.addEventListener("click", () => this.streamChart(device, stream, chartArea).catch(report));
      return [open, stream.type, text(stream.unit && (stream.unit.symbol || stream.unit.label)), text(stream.value),
              text(stream.latest_value_at)];
    })), chartArea);
    detail.append(el("h3", {}, "Commands"), table("device-commands", ["Command", "Sent", "Status", "Data"],
      commands.map((c) => [c.name, c.sent_at, c.status, text(c.data)])));
    const numeric = streams.find((stream) => stream.type === "numeric");
    if (numeric) await this.streamChart(device, numeric, chartArea);
  }

  async streamChart(device, stream, area) {
    this.close();
    for (const b of this.detailNode.querySelectorAll("button.stream")) b.classList.toggle("active", b.dataset.stream === stream.name);
    clear(area).append(el("h3", { id: "stream-name" }, stream.display_name || stream.name));
    const target = `device=${encodeURIComponent(device.id)}&stream=${encodeURIComponent(stream.name)}`;
    this.series = new SeriesPage(area, stream.name, (what) => `m2x/${what}?${target}`);
    await this.series.open();
  }

  async keysPage() {
    const { keys } = await get("m2x/keys");
    this.begin("Keys", "the account's API keys (secrets shortened)").append(table("keys",
      ["Name", "Key", "Kind", "Device", "Permissions", "Expires"], keys.map((k) => [
        text(k.name), k.key, k.master ? "master" : "device", text(k.device), k.permissions.join(" "), text(k.expires_at)])));
  }

  async commandsPage() {
    const { commands } = await get("m2x/commands");
    this.begin("Commands", "sent to the account's devices").append(table("commands",
      ["Command", "Sent", "Pending", "Processed", "Rejected", "Data"], commands.map((c) => [
        c.name, c.sent_at, String(c.status_counts.pending), String(c.status_counts.processed),
        String(c.status_counts.rejected), text(c.data)])));
  }
}

// --- EXP --------------------------------------------------------------------------------
class ExpPages {
  constructor(treeNode, detailNode) {
    this.treeNode = treeNode;
    this.detailNode = detailNode;
    this.events = null;
  }

  async open() {
    const pages = [["devices", "Devices", () => this.listPage("devices", "Devices", ["name", "uuid", "secret", "subtype"])],
                   ["experiences", "Experiences", () => this.listPage("experiences", "Experiences", ["name", "uuid"])],
                   ["content", "Content", () => this.contentPage()],
                   ["traffic", "Network traffic", () => this.trafficPage()]];
    const list = el("ul");
    for (const [id, label, open] of pages) {
      const button = el("button", { type: "button", class: "node", "data-page": id }, el("span", { class: "name" }, label));
      button.addEventListener("click", () => { this.mark(button); open().catch(report); });
      list.append(el("li", {}, button));
    }
    clear(this.treeNode).append(el("h3", {}, "Organization"), list);
    this.mark(list.querySelector(".node"));
    await pages[0][2]();
  }

  mark(button) { for (const b of this.treeNode.querySelectorAll(".node")) b.classList.toggle("selected", b === button); }

  close() {
    if (this.events) this.events.close();
    this.events = null;
  }

  begin(title) {
    this.close();
    clear(this.detailNode).append(el("h2", { id: "resource-name" }, title));
    return this.detailNode;
  }

  async listPage(collection, title, fields) {
    const { results, total } = await get(`exp/${collection}`);
    const detail = this.begin(title);
    detail.append(el("p", { class: "status" }, `${total} in the organization`),
      table(collection, fields, results.map((doc) => fields.map((field) => text(doc[field])))));
    detail.append(el("h3", {}, "Documents"), el("pre", {}, JSON.stringify(results, null, 2)));
  }

  async contentPage() {
    const { results } = await get("exp/content");
    const detail = this.begin("Content");
    const children = new Map();
    for (const item of results) {
      if (!children.has(item.parent)) children.set(item.parent, []);
      children.get(item.parent).push(item);
    }
    const branch = (parent) => {
      const ul = el("ul");
      for (const item of (children.get(parent) || []).sort((a, b) => a.name.localeCompare(b.name))) {
        ul.append(el("li", { "data-path": item.path }, el("span", { class: "badge" }, text(item.subtype)), " ",
          el("span", { class: "name" }, text(item.name)), item.mimeType ? el("span", { class: "alias" }, ` ${item.mimeType}`) : null,
          branch(item.uuid)));
      }
      return ul;
    };
    const root = results.filter((item) => !item.parent);
    const tree = el("div", { id: "content-tree" });
    for (const item of root) tree.append(el("div", {}, el("span", { class: "name" }, text(item.name))), branch(item.uuid));
    detail.append(tree);
  }

  trafficPage() {
    const detail = this.begin("Network traffic");
    const counts = new Map();
    const perChannel = el("table", { id: "traffic-channels" });
    const log = el("table", { id: "traffic" }, el("tr", {}, ...["Time", "Channel", "Name", "Payload"].map((h) => el("th", {}, h))));
    const status = el("p", { class: "status", id: "traffic-status" }, "connecting …");
    detail.append(status, el("h3", {}, "Broadcasts per channel"), perChannel, el("h3", {}, "Latest messages"), log);
    const drawCounts = () => {
      clear(perChannel).append(el("tr", {}, el("th", {}, "Channel"), el("th", {}, "Messages")));
      for (const [channel, count] of [...counts].sort((a, b) => b[1] - a[1])) {
        perChannel.append(el("tr", { "data-channel": channel }, el("td", {}, channel), el("td", {}, String(count))));
      }
    };
    drawCounts();
    const events = this.events = new EventSource(`${API}exp/traffic`);
    events.onopen = () => { status.textContent = "live: messages on your organization's channels appear here"; };
    events.onmessage = (event) => {
      const message = JSON.parse(event.data);
      const channel = message.channel_name + (message.system ? " (system)" : message.consumer ? " (consumer)" : "");
      counts.set(channel, (counts.get(channel) || 0) + 1 + message.skipped);
      drawCounts();
      log.firstChild.after(el("tr", { class: "message" }, el("td", {}, when(message.at)), el("td", {}, channel),
        el("td", {}, message.name), el("td", { class: "value" }, JSON.stringify(message.payload))));
      while (log.rows.length > 201) log.lastChild.remove();
    };
    events.addEventListener("end", () => { events.close(); status.textContent = "live view ended: sign in again"; });
    return Promise.resolve();
  }
}

const PAGES = { onep: OnepPages, m2x: M2XPages, exp: ExpPages };

document.addEventListener("DOMContentLoaded", () => start().catch(report));
