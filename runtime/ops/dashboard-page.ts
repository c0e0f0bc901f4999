// The dashboard page: static HTML and browser JS, shipped in the package as a string (tsc compiles it
// into dist/ like any module, so users need no build step). It polls `<base>/data.json` every 2 s and
// draws with uPlot (served from the uplot package by dashboard.ts).

/** The page, with its asset and data URLs under `base`. */
export function dashboardPage(base: string): string {
  return PAGE.replaceAll("__BASE__", base.replace(/[^A-Za-z0-9/_.~-]/g, encodeURIComponent));
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sourdough</title>
<link rel="stylesheet" href="__BASE__/uplot.css">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 16px 24px; color: #222; background: #fafafa; }
  h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 18px 0 6px; }
  .status { display: inline-block; padding: 2px 10px; border-radius: 10px; color: #fff; font-weight: 600; }
  .healthy { background: #2a8a3e; } .degraded { background: #c98a00; } .unhealthy { background: #c0392b; }
  table { border-collapse: collapse; background: #fff; } td, th { padding: 3px 10px; border-bottom: 1px solid #e4e4e4; text-align: right; }
  th { background: #f0f0f0; font-weight: 600; } td:first-child, th:first-child { text-align: left; }
  .row { display: flex; gap: 24px; flex-wrap: wrap; } .muted { color: #777; } #reasons { color: #c0392b; }
  .busy { color: #c06000; font-weight: 600; } .down { color: #c0392b; font-weight: 600; }
  ul { margin: 0; padding-left: 18px; } #events li { font-family: ui-monospace, monospace; font-size: 12px; }
</style>
</head>
<body>
<h1>sourdough <span id="status" class="status">…</span></h1>
<div class="muted">instance <span id="instance"></span> · up <span id="uptime"></span> s ·
 isolates <span id="isolates-total"></span> total, <span id="isolates-available"></span> available, <span id="isolates-busy"></span> busy ·
 objects resident <span id="objects-total"></span> · updated <span id="updated"></span></div>
<div id="reasons"></div>
<h2>Hosts and isolates</h2>
<table id="isolates"><thead><tr><th>host</th><th>pid</th><th>host state</th><th>restarts</th><th>up (s)</th><th>isolate</th><th>state</th><th>objects</th><th>queued</th><th>in flight</th><th>event loop</th><th>heap MiB (limit)</th></tr></thead><tbody></tbody></table>
<div class="row">
 <div><h2>Calls per second</h2><div id="chart-rate"></div></div>
 <div><h2>Latency (ms, callee side)</h2><div id="chart-latency"></div></div>
</div>
<div class="row">
 <div><h2>Objects by class</h2><table id="classes"><thead><tr><th>class</th><th>resident</th><th>activations</th><th>evictions</th><th>resets</th></tr></thead><tbody></tbody></table></div>
 <div><h2>Busiest methods</h2><table id="methods"><thead><tr><th>method</th><th>calls</th><th>errors</th><th>mean ms</th></tr></thead><tbody></tbody></table></div>
</div>
<h2>Recent restarts and resets</h2>
<ul id="events"><li class="muted">none</li></ul>
<script src="__BASE__/uplot.js"></script>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const mib = (b) => (b / 1048576).toFixed(0);
let rate, latency;
function chart(el, series, data) {
  const opts = { width: 520, height: 220, series: [{}].concat(series), axes: [{}, { size: 60 }], legend: { live: false } };
  return new uPlot(opts, data, el);
}
function render(d) {
  const h = d.health;
  const status = $("status");
  status.textContent = h.status;
  status.className = "status " + h.status;
  $("instance").textContent = h.instance_id;
  $("uptime").textContent = h.uptime_seconds;
  $("isolates-total").textContent = h.isolates.total;
  $("isolates-available").textContent = h.isolates.available;
  $("isolates-busy").textContent = h.isolates.busy;
  $("updated").textContent = new Date(d.at).toLocaleTimeString();
  $("reasons").textContent = h.reasons.join(" · ");
  let objects = 0;
  const rows = [];
  for (const host of h.hosts) {
    const list = host.isolates.length ? host.isolates : [null];
    for (const i of list) {
      if (i) objects += i.objects_resident;
      rows.push('<tr data-host="' + host.host + '"' + (i ? ' data-isolate="' + i.isolate + '"' : "") + '><td>' + host.host + "</td><td>" + esc(host.pid ?? "") + "</td><td>" + esc(host.state) + "</td><td>" + host.restarts + "</td><td>" + host.uptime_seconds + "</td>" +
        (i ? "<td>" + i.isolate + '</td><td class="' + i.state + '">' + i.state + '</td><td data-field="objects">' + i.objects_resident + "</td><td>" + i.events_queued + "</td><td>" + i.calls_in_flight + "</td><td>" + Math.round(i.event_loop_utilization * 100) + " %</td><td>" + mib(i.heap_used_bytes) + " (" + mib(i.heap_limit_bytes) + ")</td>" : '<td colspan="7" class="muted">no report</td>') + "</tr>");
    }
  }
  $("objects-total").textContent = objects;
  $("isolates").tBodies[0].innerHTML = rows.join("");
  $("classes").tBodies[0].innerHTML = d.classes.map((c) => '<tr data-class="' + esc(c.class) + '"><td>' + esc(c.class) + '</td><td data-field="resident">' + c.resident + "</td><td>" + c.activations + "</td><td>" + c.evictions + "</td><td>" + c.resets + "</td></tr>").join("");
  $("methods").tBodies[0].innerHTML = d.methods.map((m) => "<tr><td>" + esc(m.class + "." + m.method) + "</td><td>" + m.calls + "</td><td>" + m.errors + "</td><td>" + m.meanMs + "</td></tr>").join("");
  $("events").innerHTML = d.events.length ? d.events.slice().reverse().map((e) => "<li>" + new Date(e.at).toLocaleTimeString() + " " + esc(e.kind) + ": " + esc(e.text) + "</li>").join("") : '<li class="muted">none</li>';
  const s = d.series;
  const rateData = [s.t, s.callsPerSecond];
  const latData = [s.t, s.p50, s.p95, s.p99];
  if (typeof uPlot === "function") {
    if (!rate) rate = chart($("chart-rate"), [{ label: "calls/s", stroke: "#2a6fdb", width: 2 }], rateData); else rate.setData(rateData);
    if (!latency) latency = chart($("chart-latency"), [{ label: "p50", stroke: "#2a8a3e" }, { label: "p95", stroke: "#c98a00" }, { label: "p99", stroke: "#c0392b" }], latData); else latency.setData(latData);
  }
  document.body.dataset.updatedAt = String(d.at);
}
async function poll() {
  try {
    const res = await fetch("__BASE__/data.json", { cache: "no-store" });
    if (res.ok) render(await res.json());
  } catch (e) {
    $("reasons").textContent = "dashboard: cannot reach the server (" + e + ")";
  }
  setTimeout(poll, 2000);
}
poll();
</script>
</body>
</html>
`;
