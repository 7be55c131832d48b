// agent_cache dashboard: live figures over SSE, charts with the vendored uPlot, controls.
// Every URL is relative, so the page works wherever the ASGI app is mounted.
"use strict";

const $ = (id) => document.getElementById(id);
const MAX_POINTS = 300;
const fmt = (v, digits = 0) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));
const pct = (v) => (v === null || v === undefined ? "–" : (100 * v).toFixed(1) + " %");

// --- charts ------------------------------------------------------------------------------------
const series = { t: [], hit: [], miss: [], coal: [], ratio: [], ratioNow: [], dbWith: [], dbWithout: [], p50: [], p95: [] };
function makeChart(el, defs, yLabel) {
  const opts = {
    width: Math.max(380, el.clientWidth || 420), height: 180,
    scales: { x: { time: true } },
    axes: [{}, { label: yLabel, size: 50 }],
    series: [{}].concat(defs.map(([label, stroke]) => ({ label, stroke, width: 2, spanGaps: true }))),
    legend: { live: false },
  };
  return new uPlot(opts, [[]].concat(defs.map(() => [])), el);
}
const charts = {
  rps: makeChart($("chart-rps"), [["hit", "#2e9d5b"], ["miss", "#d9822b"], ["coalesced", "#3b6fd8"]], "req/s"),
  ratio: makeChart($("chart-ratio"), [["cumulative", "#1d2330"], ["last second", "#2e9d5b"]], "ratio"),
  db: makeChart($("chart-db"), [["with cache", "#2e9d5b"], ["without cache", "#d23b3b"]], "queries"),
  latency: makeChart($("chart-latency"), [["p50", "#3b6fd8"], ["p95", "#d9822b"]], "ms"),
};
function push(p) {
  series.t.push(p.t);
  series.hit.push(p.hits_per_s); series.miss.push(p.misses_per_s); series.coal.push(p.coalesced_per_s);
  series.ratio.push(p.hit_ratio); series.ratioNow.push(p.hit_ratio_now);
  series.dbWith.push(p.db_queries_cached ?? null); series.dbWithout.push(p.db_queries_uncached ?? null);
  series.p50.push(p.load_ms ? p.load_ms.p50 : null); series.p95.push(p.load_ms ? p.load_ms.p95 : null);
  for (const k in series) if (series[k].length > MAX_POINTS) series[k].shift();
}
function redraw() {
  charts.rps.setData([series.t, series.hit, series.miss, series.coal]);
  charts.ratio.setData([series.t, series.ratio, series.ratioNow]);
  charts.db.setData([series.t, series.dbWith, series.dbWithout]);
  charts.latency.setData([series.t, series.p50, series.p95]);
}

// --- figures -----------------------------------------------------------------------------------
let lastSessions = "";
function show(p) {
  const rps = p.hits_per_s + p.misses_per_s + p.coalesced_per_s;
  $("fig-rps").textContent = fmt(rps, 1);
  $("fig-rps-split").textContent = `hit ${fmt(p.hits_per_s, 1)} · miss ${fmt(p.misses_per_s, 1)} · coalesced ${fmt(p.coalesced_per_s, 1)}`;
  $("fig-hit-ratio").textContent = pct(p.hit_ratio);
  $("fig-hit-now").textContent = "last second: " + pct(p.hit_ratio_now);
  $("fig-coalesced").textContent = p.coalesced;
  $("fig-avoided").textContent = p.loads_avoided;
  $("fig-invalidations").textContent = p.invalidations;
  const loops = p.loops || {};
  $("fig-loops").textContent = Object.values(loops).reduce((a, b) => a + b, 0);
  $("fig-loops-kind").textContent = ["repeat", "cycle", "max_depth"].map((k) => `${k} ${loops[k] || 0}`).join(" · ");
  $("fig-active").textContent = p.active_sessions;
  $("fig-finished").textContent = `${p.sessions_finished} finished`;
  $("fig-latency").textContent = p.load_ms && p.load_ms.p50 !== null ? `${fmt(p.load_ms.p50, 1)} / ${fmt(p.load_ms.p95, 1)} ms` : "–";
  if (p.workload) {
    const w = p.workload, saved = w.db_queries_uncached ? 1 - w.db_queries_cached / w.db_queries_uncached : null;
    $("fig-db").textContent = `${w.db_queries_cached} / ${w.db_queries_uncached}`;
    $("fig-db-saved").textContent = saved === null ? "" : `${pct(saved)} of the queries saved · ${w.sessions_done} sessions`;
    $("run-state").textContent = w.running ? `running · ${w.workers} workers` : "stopped";
    fillResources(w.resources);
  } else {
    $("fig-db").textContent = "n/a (attached to an application)";
    $("workload-controls").classList.add("disabled");
  }
  $("telemetry-note").textContent = "telemetry: " + (p.telemetry || "");
  const key = JSON.stringify(p.sessions);
  if (key !== lastSessions) { lastSessions = key; sessionRows(p.sessions || []); }
}
let resourcesFilled = false;
function fillResources(list) {
  if (resourcesFilled || !list) return;
  $("resource").innerHTML = list.map((r) => `<option>${r}</option>`).join("");
  resourcesFilled = true;
}

// --- live stream -------------------------------------------------------------------------------
function connect() {
  const es = new EventSource("events");
  es.addEventListener("history", (e) => { for (const p of JSON.parse(e.data)) push(p); redraw(); });
  es.addEventListener("sample", (e) => {
    const p = JSON.parse(e.data);
    if (!series.t.length || series.t[series.t.length - 1] < p.t) { push(p); redraw(); }
    show(p);
    const c = $("conn"); c.textContent = "live"; c.classList.add("live");
    document.body.dataset.samples = String(Number(document.body.dataset.samples || 0) + 1);
  });
  es.onerror = () => { const c = $("conn"); c.textContent = "reconnecting…"; c.classList.remove("live"); };
}

// --- controls ----------------------------------------------------------------------------------
async function post(path, body) {
  $("error").textContent = "";
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}) });
  const data = await r.json();
  if (!r.ok) { $("error").textContent = data.error || r.statusText; throw new Error(data.error); }
  return data;
}
$("loop-rate").oninput = () => { $("loop-rate-out").textContent = Number($("loop-rate").value).toFixed(2); };
$("start").onclick = () => post("api/workload/start");
$("stop").onclick = () => post("api/workload/stop");
$("apply").onclick = () => post("api/workload/config", {
  concurrency: Number($("concurrency").value), loop_rate: Number($("loop-rate").value), latency_ms: Number($("latency").value),
});
$("herd").onclick = async () => {
  const n = Number($("herd-n").value);
  $("herd-result").textContent = "…";
  const r = await post("api/workload/herd", { n });
  const res = r.session ? r.session.results : {};
  $("herd-result").textContent = `${r.calls} calls of ${r.tool}: ${res.miss || 0} load, ${res.coalesced || 0} coalesced, ${fmt(r.elapsed_ms, 0)} ms`;
  if (r.session) openSession(r.trace_id);
};
$("invalidate").onclick = () => post("api/workload/invalidate", { resource: $("resource").value });

// --- sessions and waterfall ------------------------------------------------------------------
let selected = null;
function sessionRows(list) {
  $("session-rows").innerHTML = list.map((s) => {
    const marks = s.loops.map((k) => `<span class="badge loop" title="loop caught">${k}</span>`).join("") +
      (s.invalidations ? `<span class="badge inval" title="invalidations">inval ${s.invalidations}</span>` : "");
    return `<tr data-trace="${s.trace_id}" class="${s.trace_id === selected ? "selected" : ""}" data-testid="session-row">` +
      `<td>${escapeHtml(s.name)}</td><td>${fmt(s.duration_ms, 1)}</td><td>${s.results.hit || 0}</td>` +
      `<td>${s.results.miss || 0}</td><td>${s.results.coalesced || 0}</td><td>${marks}</td></tr>`;
  }).join("");
}
$("session-rows").onclick = (e) => { const tr = e.target.closest("tr"); if (tr) openSession(tr.dataset.trace); };
function escapeHtml(s) { return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]); }
async function openSession(traceId) {
  selected = traceId;
  for (const tr of document.querySelectorAll("#session-rows tr")) tr.classList.toggle("selected", tr.dataset.trace === traceId);
  const r = await fetch("api/sessions/" + traceId);
  if (!r.ok) { $("waterfall").innerHTML = "<h2>Waterfall</h2><p class='hint'>That session is no longer kept.</p>"; return; }
  drawWaterfall(await r.json());
}
function drawWaterfall(s) {
  const spans = s.span_list, total = Math.max(s.duration_ms, 0.001);
  const depth = {}, byId = {};
  for (const sp of spans) byId[sp.id] = sp;
  const depthOf = (sp) => { if (depth[sp.id] !== undefined) return depth[sp.id]; const p = byId[sp.parent]; return (depth[sp.id] = p ? depthOf(p) + 1 : 0); };
  const rows = spans.map((sp) => {
    const result = sp.attributes["agent_cache.result"] || "";
    const left = (100 * sp.start_ms) / total, width = (100 * sp.duration_ms) / total;
    const marks = sp.events.map((e) => {
      const at = (100 * e.at_ms) / total, loop = e.name === "agent_cache.loop_detected";
      const title = loop ? `loop: ${e.attributes["agent_cache.loop.kind"]}` : `invalidation: ${e.attributes["agent_cache.resource"] || ""}`;
      return `<span class="mark ${loop ? "loop" : "inval"}" style="left:${at}%" title="${escapeHtml(title)}" data-testid="${loop ? "mark-loop" : "mark-inval"}">${loop ? "▲" : "◆"}</span>`;
    }).join("");
    const label = escapeHtml(sp.name) + (result ? ` <span class="hint">${result}</span>` : "");
    return `<div class="wf-row" data-testid="wf-row"><div class="wf-name" style="padding-left:${12 * depthOf(sp)}px" title="${escapeHtml(sp.name)}">${label}</div>` +
      `<div class="wf-track"><div class="wf-bar ${result} ${sp.error ? "error" : ""}" style="left:${left}%;width:${width}%"></div>${marks}</div>` +
      `<div class="wf-ms">${fmt(sp.duration_ms, 2)} ms</div></div>`;
  }).join("");
  const summary = `${escapeHtml(s.name)} · ${fmt(s.duration_ms, 1)} ms · ${s.spans} spans` +
    (s.loops.length ? ` · loop: ${s.loops.join(", ")}` : "") + (s.invalidations ? ` · ${s.invalidations} invalidations` : "");
  $("waterfall").innerHTML = `<h2>Waterfall</h2><p class="hint" data-testid="wf-summary">${summary}</p>${rows}`;
}

// --- playground --------------------------------------------------------------------------------
function pgShow(r) {
  if (r.calls) {
    $("pg-calls").innerHTML = r.calls.map((c) => `<tr><td>${escapeHtml(c.call)}</td><td>${fmt(c.ms, 1)}</td><td>${escapeHtml(c.error || JSON.stringify(c.value))}</td></tr>`).join("");
    $("pg-summary").textContent = `${r.op}: ${r.calls.length} call(s), loader ran ${r.loader_runs} time(s)` +
      (r.batches && r.batches.length ? `, batches of ${r.batches.join(", ")}` : "");
  }
  $("pg-metrics").textContent = JSON.stringify({ settings: r.settings, metrics: r.metrics, loader_runs_total: r.loader_runs_total, batch_calls_total: r.batch_calls_total }, null, 1);
}
$("pg-apply").onclick = async () => pgShow(await post("api/playground/configure", {
  kind: $("pg-kind").value, maxsize: $("pg-maxsize").value, ttl: $("pg-ttl").value, skip_args: $("pg-skip").value,
  batch_window_ms: $("pg-window").value, max_batch_size: $("pg-batch").value,
}));
for (const b of document.querySelectorAll("button[data-op]")) {
  b.onclick = async () => pgShow(await post("api/playground/op", { op: b.dataset.op, key: $("pg-key").value, value: $("pg-value").value, n: Number($("pg-n").value) }));
}
fetch("api/playground").then((r) => r.json()).then(pgShow);
window.addEventListener("resize", () => { for (const c of Object.values(charts)) c.setSize({ width: Math.max(380, c.root.parentElement.clientWidth - 12), height: 180 }); });
connect();
