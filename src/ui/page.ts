/**
 * The status page at `/`: one HTML document and one script, served by mcr
 * itself (no CDN, no network access). It reads GET /api/v1/stats, /health,
 * /api/v1/streams (a Streams section, shown when a rule is inspected),
 * /api/v1/merges (a Merges section, shown when a rule merges legs) and
 * /api/v1/routing (a Routing section, shown when a protocol is
 * configured), and follows GET /api/v1/events for a live chart of input and
 * output rates over the last five minutes. A click on a rule shows where its
 * stream stops (GET /api/v1/rules/NAME/explain). Read-only: it changes nothing.
 */

import { pageHead } from "./head.ts";

export const PAGE_HTML = `${pageHead("mcr status")}<body>
<header><h1>mcr</h1><span id="health" class="badge">…</span><span id="uptime"></span><form id="signout" method="post" action="/logout"><button type="submit">sign out</button></form></header>
<main>
<section id="health-section"><h2>Health</h2><ul id="reasons"></ul></section>
<section><h2>Rates (up to the last 5 minutes)</h2>
<svg id="chart" width="720" height="200" viewBox="0 0 720 200" role="img" aria-label="input and output packets per second"></svg>
<p class="legend"><span class="in">■ in</span> <span id="rx-now" data-value="0">0</span> pps &nbsp; <span class="out">■ out</span> <span id="tx-now" data-value="0">0</span> pps &nbsp; loss <span id="loss-now">0</span> pps</p>
</section>
<section><h2>Rules</h2><table id="rules"><thead><tr><th>rule</th><th>state</th><th>input</th><th>outputs: sent / lost (why)</th><th>pps</th><th>packets</th><th>silent</th></tr></thead><tbody></tbody></table>
<p class="legend">Click a rule to see where its stream stops (mcr explain).</p></section>
<section id="explain" hidden><h2>Where <span id="explain-rule"></span>'s stream stops: <span id="explain-verdict" class="badge"></span></h2><ol id="explain-steps"></ol></section>
<section id="merges" hidden><h2>Merges</h2><table><thead><tr><th>rule</th><th>mode</th><th>state</th><th>legs</th><th>sent</th><th>lost on every leg</th><th>late</th><th>reason</th></tr></thead><tbody></tbody></table></section>
<section id="streams" hidden><h2>Streams</h2><table><thead><tr><th>rule</th><th>mode</th><th>state</th><th>worst indicator</th><th>Mb/s</th><th>loss / CC errors</th><th>jitter ms</th></tr></thead><tbody></tbody></table></section>
<section id="routing" hidden><h2>Routing</h2><table><thead><tr><th>protocol</th><th>where</th><th>state</th><th>detail</th></tr></thead><tbody></tbody></table></section>
<section><h2>Drops by reason</h2><table id="drops"><tbody></tbody></table></section>
<section><h2>Workers</h2><table id="workers"><thead><tr><th>worker</th><th>alive</th><th>restarts</th><th>rx</th><th>tx</th></tr></thead><tbody></tbody></table></section>
</main>
<script src="/ui/app.js"></script>
</body>
</html>
`;

export const PAGE_CSS =
  `body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{display:flex;gap:1em;align-items:center;padding:.6em 1em;background:#234;color:#fff}
h1{font-size:1.3em;margin:0}h2{font-size:1em;margin:1.2em 0 .4em}
main{padding:0 1em 2em}table{border-collapse:collapse;background:#fff}
td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left;font-size:.9em}
.badge{padding:.15em .6em;border-radius:.8em;background:#888}.ok{background:#2a2}.warning{background:#d90}.critical{background:#c22}
#signout{margin-left:auto}
button.explain{border:0;background:none;padding:0;color:#1d4ed8;text-decoration:underline;cursor:pointer;font:inherit}
#explain-steps li{margin:.2em 0}.step-fail .mark{color:#c22}.step-warn .mark{color:#a60}.step-ok .mark{color:#2a2}.step-skip .mark{color:#888}
.hint{color:#555}
tr.state-silent td:nth-child(-n+2),tr.state-failing td:nth-child(-n+2){background:#fdd}
tr.state-waiting td:nth-child(-n+2),tr.state-losing td:nth-child(-n+2){background:#ffe9b3}
.lost{color:#c22;font-weight:600}#reasons li.reason-critical{color:#c22}#reasons li.reason-warning{color:#a60}
.in{color:#2563eb}.out{color:#16a34a}svg{background:#fff;border:1px solid #ddd}
`;

/** The page's script: plain browser JavaScript, no dependencies. */
export const PAGE_JS = `"use strict";
const WINDOW_S = 300;
const points = []; // { t, rx, tx }
const $ = (id) => document.getElementById(id);
const fmt = (n) => Math.round(n).toLocaleString("en");
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const where = (e) => (e.egress === "routed" ? "routed " + (e.interface ?? "") : e.interface ?? "*") + " " + (e.group ?? e.address) + (e.port !== undefined ? ":" + e.port : "");

function drawChart() {
  const svg = $("chart");
  const now = Date.now() / 1000;
  const recent = points.filter((p) => p.t > now - WINDOW_S);
  // The last minute at least, five at most: a young page is not a line at the edge.
  const span = Math.min(WINDOW_S, Math.max(60, recent.length ? now - recent[0].t : 0));
  const max = Math.max(10, ...recent.map((p) => Math.max(p.rx, p.tx)));
  const x = (t) => 40 + (t - (now - span)) / span * 670;
  const y = (v) => 185 - v / max * 170;
  const line = (key, color) => recent.length < 2 ? "" :
    '<polyline fill="none" stroke="' + color + '" stroke-width="2" points="' +
    recent.map((p) => x(p.t).toFixed(1) + "," + y(p[key]).toFixed(1)).join(" ") + '"/>';
  // Time axis: a tick and label each minute back from now (each 15 s while the span is a minute).
  const step = span > 90 ? 60 : 15;
  let axis = "";
  for (let back = 0; back <= span + 0.001; back += step) {
    const tx = x(now - back).toFixed(1);
    const label = back === 0 ? "now" : back % 60 === 0 ? "-" + back / 60 + " min" : "-" + back + " s";
    axis += '<line x1="' + tx + '" y1="185" x2="' + tx + '" y2="190" stroke="#999"/>' +
      '<text class="tick" x="' + tx + '" y="199" font-size="10" text-anchor="middle">' + label + "</text>";
  }
  svg.innerHTML = '<text x="4" y="20" font-size="11">' + fmt(max) + '</text><text x="4" y="188" font-size="11">0</text>' +
    '<line x1="40" y1="185" x2="710" y2="185" stroke="#999"/>' + axis + line("rx", "#2563eb") + line("tx", "#16a34a");
  svg.dataset.points = String(recent.length);
}

/** A rule's state as the table colours it: waiting, silent, failing (losing every copy), losing, active. */
function ruleState(r, rate) {
  if (!r.active) return "waiting";
  if (r.silent_ms > 5000) return "silent";
  const lossPps = rate?.loss_pps ?? 0;
  if (lossPps > 0 && (rate?.outputs ?? []).every((o) => o.pps === 0)) return "failing";
  if (lossPps > 0) return "losing";
  return "active";
}

const LOSSES = [["errors", "refused"], ["too_big", "too big"], ["ttl_expired", "TTL"], ["ring_full", "ring full"]];

/** An output with its counters: copies sent, copies lost and why. */
function outputCell(o) {
  const c = o.counters ?? {};
  const lost = LOSSES.reduce((n, [k]) => n + (c[k] ?? 0), 0);
  const why = LOSSES.filter(([k]) => (c[k] ?? 0) > 0).map(([k, w]) => w + " " + fmt(c[k])).join(", ");
  return '<span class="output" data-sent="' + (c.packets ?? 0) + '" data-lost="' + lost + '">' + esc(where(o)) +
    (o.learned ? " (" + esc(o.learned) + ")" : o.on_demand ? " (on demand)" : "") + ": " + fmt(c.packets ?? 0) + " / " +
    (lost > 0 ? '<span class="lost">' + fmt(lost) + " (" + esc(why) + ")</span>" : "0") + "</span>";
}

function onStats(s) {
  points.push({ t: Date.now() / 1000, rx: s.rx_pps, tx: s.tx_pps });
  while (points.length > 0 && points[0].t < Date.now() / 1000 - WINDOW_S - 5) points.shift();
  $("rx-now").textContent = fmt(s.rx_pps);
  $("rx-now").dataset.value = String(s.rx_pps);
  $("tx-now").textContent = fmt(s.tx_pps);
  $("tx-now").dataset.value = String(s.tx_pps);
  $("loss-now").textContent = fmt(s.loss_pps);
  for (const [name, pps] of Object.entries(s.rules ?? {})) {
    const cell = document.querySelector('tr[data-rule="' + CSS.escape(name) + '"] td.pps');
    if (cell) cell.textContent = fmt(pps);
  }
  drawChart();
}

async function refresh() {
  try {
    const [stats, health] = await Promise.all([fetch("/api/v1/stats").then((r) => r.json()), fetch("/health").then((r) => r.json())]);
    $("health").textContent = health.status;
    $("health").className = "badge " + health.status;
    $("uptime").textContent = "up " + fmt(stats.uptime_s) + " s";
    $("reasons").innerHTML = health.reasons.length
      ? health.reasons.map((r) => '<li class="reason-' + esc(health.status) + '">' + esc(r) + "</li>").join("") +
        (health.reasons_total > health.reasons.length ? "<li>and " + (health.reasons_total - health.reasons.length) + " more</li>" : "")
      : "<li>all well</li>";
    $("rules").tBodies[0].innerHTML = stats.rules.map((r) => {
      const rate = stats.rates?.rules?.[r.name];
      const state = ruleState(r, rate);
      return '<tr data-rule="' + esc(r.name) + '" data-state="' + state + '" class="state-' + state + '"><td><button class="explain" data-rule="' + esc(r.name) + '">' + esc(r.name) + "</button></td><td>" + state + "</td><td>" +
        esc(where(r.input)) + "</td><td>" + r.outputs.map(outputCell).join("<br>") + '</td><td class="pps">' +
        fmt(rate?.pps ?? 0) + "</td><td>" + fmt(r.counters.packets) + "</td><td>" + (r.silent_ms / 1000).toFixed(1) + " s</td></tr>";
    }).join("");
    $("drops").tBodies[0].innerHTML = Object.entries(stats.totals).filter(([k]) => k.startsWith("drop_"))
      .map(([k, v]) => "<tr><td>" + esc(k.slice(5)) + "</td><td>" + fmt(v) + "</td></tr>").join("");
    $("workers").tBodies[0].innerHTML = stats.workers.map((w) =>
      "<tr><td>" + w.id + "</td><td>" + w.alive + "</td><td>" + w.restarts + "</td><td>" + fmt(w.counters.rx_packets) +
      "</td><td>" + fmt(w.counters.tx_sent) + "</td></tr>").join("");
    await refreshStreams();
    await refreshMerges();
    await refreshRouting();
    document.body.dataset.loaded = "1";
  } catch (err) {
    $("health").textContent = "unreachable";
    $("health").className = "badge critical";
  }
}

/** The Streams section: each inspected rule's state (coloured), its worst indicator and key figures. */
async function refreshStreams() {
  const res = await fetch("/api/v1/streams");
  if (res.status !== 200) return;
  const list = await res.json();
  $("streams").hidden = list.length === 0;
  document.querySelector("#streams tbody").innerHTML = list.map((s) =>
    '<tr data-stream="' + esc(s.rule) + '"><td>' + esc(s.rule) + "</td><td>" + esc(s.mode) + '</td><td><span class="badge ' + esc(s.state) + '">' +
    esc(s.state) + "</span></td><td>" + esc(s.indicator ?? "") + "</td><td>" + (s.bits_per_second / 1e6).toFixed(2) + "</td><td>" +
    (s.rtp ? fmt(s.rtp.lost) : "-") + " / " + (s.ts ? fmt(s.ts.cc_error) : "-") + "</td><td>" + (s.rtp ? s.rtp.jitter_ms.toFixed(3) : "-") + "</td></tr>"
  ).join("");
}

/** The Merges section: each merged pair's state, its legs up or down (with the path differential), losses. */
async function refreshMerges() {
  const res = await fetch("/api/v1/merges");
  if (res.status !== 200) return;
  const list = await res.json();
  $("merges").hidden = list.length === 0;
  document.querySelector("#merges tbody").innerHTML = list.map((m) =>
    '<tr data-merge="' + esc(m.rule) + '"><td>' + esc(m.rule) + "</td><td>" + esc(m.mode) + '</td><td><span class="badge ' + esc(m.state) + '">' +
    esc(m.state) + "</span></td><td>" + m.legs.map((l) => esc(l.interface) + " " + esc(l.state) + (m.figures.active_leg === l.leg ? " (active)" : "") +
    " pd " + (l.pd_ms ?? 0).toFixed(1) + " ms").join("<br>") + "</td><td>" + fmt(m.figures.forwarded) + "</td><td>" + fmt(m.figures.lost) +
    "</td><td>" + fmt(m.figures.late) + "</td><td>" + esc(m.reasons[0] ?? "") + "</td></tr>"
  ).join("");
}

/** The Routing section: IGMP/MLD queriers and groups, PIM DRs, neighbours and learned routes, MSDP peers. */
async function refreshRouting() {
  const res = await fetch("/api/v1/routing");
  if (res.status !== 200) return;
  const r = await res.json();
  const rows = [];
  const row = (p, w, st, d) => rows.push("<tr><td>" + esc(p) + "</td><td>" + esc(w) + "</td><td>" + esc(st) + "</td><td>" + esc(d) + "</td></tr>");
  for (const [p, list] of [["IGMP", r.igmp.interfaces], ["MLD", r.mld.interfaces]]) {
    for (const i of list) row(p, i.interface, "querier " + i.querier + (i.is_querier ? " (us)" : ""), "groups: " + (i.groups.map((g) => g.group).join(", ") || "none"));
  }
  for (const i of r.pim.interfaces) {
    const ns = r.pim.neighbors.filter((n) => n.interface === i.interface).map((n) => n.address);
    row("PIM", i.interface, "DR " + i.dr + (i.is_dr ? " (us)" : ""), "neighbours: " + (ns.join(", ") || "none"));
  }
  for (const x of r.pim.routes) row("PIM route", x.interface, x.prune_pending ? "pruning" : "joined", "(" + x.source + ", " + x.group + ") from " + x.neighbor);
  for (const p of r.msdp.peers) row("MSDP", p.peer, p.state, "SAs " + p.sa_count);
  for (const w of r.waiting) row(w.protocol.toUpperCase(), w.interface, "waiting", w.reason);
  $("routing").hidden = rows.length === 0;
  document.querySelector("#routing tbody").innerHTML = rows.join("");
}

/** The explain report of one rule, step by step (GET /api/v1/rules/NAME/explain). */
async function explain(name) {
  const res = await fetch("/api/v1/rules/" + encodeURIComponent(name) + "/explain");
  if (res.status !== 200) return;
  const r = await res.json();
  $("explain").hidden = false;
  $("explain-rule").textContent = r.rule;
  $("explain-verdict").textContent = r.verdict;
  $("explain-verdict").className = "badge " + ({ ok: "ok", warn: "warning", fail: "critical" })[r.verdict];
  $("explain-steps").innerHTML = r.steps.map((s) =>
    '<li class="step-' + esc(s.status) + '" data-step="' + esc(s.step) + '" data-status="' + esc(s.status) + '"><span class="mark">' +
    esc(s.status.toUpperCase()) + "</span> " + esc(s.step) + (s.subject ? " " + esc(s.subject) : "") + ": " + esc(s.detail) +
    (s.hint ? '<br><span class="hint">→ ' + esc(s.hint) + "</span>" : "") + "</li>"
  ).join("");
  document.body.dataset.explained = r.rule;
}

$("rules").addEventListener("click", (e) => {
  const b = e.target.closest("button.explain");
  if (b) explain(b.dataset.rule);
});

refresh();
setInterval(refresh, 5000);
const events = new EventSource("/api/v1/events");
events.addEventListener("stats", (e) => onStats(JSON.parse(e.data)));
for (const type of ["config", "health", "interface", "worker", "protocol", "stream"]) events.addEventListener(type, () => refresh());
`;
