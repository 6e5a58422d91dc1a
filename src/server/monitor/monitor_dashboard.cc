// /dashboard: one self-contained page (no external scripts, styles or fonts) that polls /varz
// and /routez every second, draws live charts on canvases and lists the cluster's nodes with
// each route's traffic.
#include "server/monitor/monitor.h"

namespace gannet {

const char* DashboardHtml() {
  return R"HTML(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gannet-server dashboard</title>
<link rel="icon" href="data:,">
<style>
  body { font-family: ui-sans-serif, system-ui, sans-serif; margin: 16px 24px; background: #f7f7fa;
         color: #24243a; }
  h1 { font-size: 20px; margin: 0 0 4px 0; }
  #status { font-size: 13px; color: #666; margin-bottom: 12px; }
  #status.error { color: #b00020; }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 14px; }
  .card { background: #fff; border-radius: 8px; padding: 10px 12px; box-shadow: 0 1px 3px #0002; }
  .card h2 { font-size: 14px; margin: 0 0 6px 0; font-weight: 600; }
  .card .now { float: right; font-weight: 400; color: #555; }
  canvas { width: 100%; height: 160px; display: block; }
  .legend span { font-size: 12px; margin-right: 12px; }
  .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
  #cluster { margin-top: 14px; overflow-x: auto; }
  #cluster-summary { font-size: 13px; color: #555; margin-bottom: 6px; }
  #routes { border-collapse: collapse; width: 100%; font-size: 13px; }
  #routes th, #routes td { text-align: right; padding: 3px 8px; border-bottom: 1px solid #eee;
                           white-space: nowrap; }
  #routes th:nth-child(-n+3), #routes td:nth-child(-n+3) { text-align: left; }
  #routes th { font-weight: 600; color: #444; }
  #routes tr.self td { color: #777; }
  #channels { border-collapse: collapse; width: 100%; font-size: 13px; }
  #channels th, #channels td { text-align: right; padding: 3px 8px;
                               border-bottom: 1px solid #eee; white-space: nowrap; }
  #channels th:first-child, #channels td:first-child { text-align: left; }
  .mono { font-family: ui-monospace, monospace; }
</style>
</head>
<body>
<h1>gannet-server</h1>
<div id="status">connecting...</div>
<div class="grid" id="charts"></div>
<div class="card" id="cluster">
  <h2>Cluster</h2>
  <div id="cluster-summary">-</div>
  <table id="routes">
    <thead><tr><th>node</th><th>address</th><th>route</th><th>rtt</th><th>msgs/s in</th>
      <th>msgs/s out</th><th>bytes/s in</th><th>bytes/s out</th><th>pending</th>
      <th>subs</th><th>up</th></tr></thead>
    <tbody></tbody>
  </table>
</div>
<div class="card" id="streaming" hidden>
  <h2>Streaming</h2>
  <div id="streaming-summary">-</div>
  <table id="channels">
    <thead><tr><th>channel</th><th>msgs</th><th>bytes</th><th>first</th><th>last</th>
      <th>subs</th></tr></thead>
    <tbody></tbody>
  </table>
</div>
<script>
"use strict";
(function () {
  const WINDOW = 120;  // samples kept (one per second)
  const COLORS = ["#3b32ca", "#e0703a"];
  const charts = [
    { id: "connections", title: "Connections", series: ["connections"], unit: "" },
    { id: "msgs", title: "Messages / s", series: ["in", "out"], unit: "/s" },
    { id: "bytes", title: "Bytes / s", series: ["in", "out"], unit: "B/s" },
    { id: "subscriptions", title: "Subscriptions", series: ["subscriptions"], unit: "" },
    { id: "slow_consumers", title: "Slow consumers", series: ["slow_consumers"], unit: "" },
  ];
  const state = { samples: 0, errors: 0, last: null, data: {}, serverId: "",
                  // /routez: the last answer's routes with their rates, by poll.
                  cluster: { samples: 0, errors: 0, name: "", routes: [], last: {} } };
  window.gannetDashboard = state;

  const grid = document.getElementById("charts");
  for (const c of charts) {
    state.data[c.id] = c.series.map(() => []);
    const card = document.createElement("div");
    card.className = "card";
    const legend = c.series.length > 1
      ? '<div class="legend">' + c.series.map((s, i) =>
          '<span><i style="background:' + COLORS[i] + '"></i>' + s + "</span>").join("") + "</div>"
      : "";
    card.innerHTML = '<h2>' + c.title + '<span class="now" id="now-' + c.id + '">-</span></h2>' +
        legend + '<canvas id="chart-' + c.id + '" data-points="0"></canvas>';
    grid.appendChild(card);
  }

  function human(v) {
    const a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(2) + "G";
    if (a >= 1e6) return (v / 1e6).toFixed(2) + "M";
    if (a >= 1e3) return (v / 1e3).toFixed(1) + "k";
    return (Math.round(v * 10) / 10).toString();
  }

  function draw(chart) {
    const canvas = document.getElementById("chart-" + chart.id);
    const ratio = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    canvas.width = w * ratio;
    canvas.height = h * ratio;
    const g = canvas.getContext("2d");
    g.scale(ratio, ratio);
    g.clearRect(0, 0, w, h);
    const series = state.data[chart.id];
    let max = 1;
    for (const s of series) for (const v of s) max = Math.max(max, v);
    max *= 1.1;
    const left = 48, bottom = 18, top = 6;
    g.strokeStyle = "#ddd";
    g.fillStyle = "#777";
    g.font = "11px sans-serif";
    for (let i = 0; i <= 4; i++) {
      const y = top + (h - top - bottom) * i / 4;
      g.beginPath(); g.moveTo(left, y); g.lineTo(w, y); g.stroke();
      g.fillText(human(max * (1 - i / 4)), 2, y + 4);
    }
    g.fillText("last " + WINDOW + " s", left, h - 4);
    series.forEach((s, k) => {
      if (s.length === 0) return;
      g.strokeStyle = COLORS[k];
      g.lineWidth = 2;
      g.beginPath();
      s.forEach((v, i) => {
        const x = left + (w - left) * (WINDOW - s.length + i) / (WINDOW - 1);
        const y = top + (h - top - bottom) * (1 - v / max);
        if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
      });
      g.stroke();
    });
    canvas.dataset.points = String(series[0].length);
    const now = series.map((s) => human(s.length ? s[s.length - 1] : 0) + chart.unit);
    document.getElementById("now-" + chart.id).textContent = now.join(" / ");
  }

  function push(id, values) {
    state.data[id].forEach((s, i) => {
      s.push(values[i]);
      if (s.length > WINDOW) s.shift();
    });
  }

  // Server ids are 56 characters: their first 12 tell nodes apart.
  function short(id) {
    return id.length > 16 ? id.slice(0, 12) + "..." : id;
  }

  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td);
  }

  // The cluster panel: this server, then one row per route (peer), with its traffic per
  // second since the previous /routez answer.
  function drawCluster(varz) {
    const c = state.cluster;
    const summary = document.getElementById("cluster-summary");
    const body = document.querySelector("#routes tbody");
    body.textContent = "";
    if (!c.name && c.routes.length === 0) {
      summary.textContent = "not clustered";
      return;
    }
    summary.textContent = "cluster " + (c.name || "?") + " - " + (c.routes.length + 1) +
        " nodes - " + c.routes.length + " routes";
    const self = document.createElement("tr");
    self.className = "self";
    cell(self, short(varz.server_name || varz.server_id) + " (this server)", "mono");
    cell(self, varz.host + ":" + (varz.cluster.cluster_port || ""));
    cell(self, "");
    for (let i = 0; i < 8; i++) cell(self, "");
    body.appendChild(self);
    for (const r of c.routes) {
      const row = document.createElement("tr");
      row.dataset.rid = String(r.rid);
      cell(row, short(r.remote_id), "mono");
      cell(row, r.ip + ":" + r.port);
      cell(row, (r.did_solicit ? "out" : "in") + (r.is_configured ? ", configured" : ""));
      cell(row, r.rtt);
      cell(row, human(r.rates.in_msgs));
      cell(row, human(r.rates.out_msgs));
      cell(row, human(r.rates.in_bytes) + "B");
      cell(row, human(r.rates.out_bytes) + "B");
      cell(row, human(r.pending_size) + "B");
      cell(row, String(r.subscriptions));
      cell(row, r.uptime);
      body.appendChild(row);
    }
  }

  async function pollRoutez(varz) {
    const c = state.cluster;
    try {
      const r = await fetch("routez", { cache: "no-store" });
      if (!r.ok) throw new Error("HTTP " + r.status);
      const z = await r.json();
      const t = Date.parse(z.now) / 1000;
      const keys = ["in_msgs", "out_msgs", "in_bytes", "out_bytes"];
      const last = {};
      c.routes = (z.routes || []).map((route) => {
        const prev = c.last[route.rid];
        const rates = {};
        for (const k of keys) {
          rates[k] = prev && t > prev.t ? (route[k] - prev[k]) / (t - prev.t) : 0;
        }
        last[route.rid] = Object.assign({ t }, ...keys.map((k) => ({ [k]: route[k] })));
        return Object.assign({}, route, { rates });
      });
      c.last = last;
      c.name = (varz.cluster && varz.cluster.name) || "";
      c.samples++;
    } catch (e) {
      c.errors++;
    }
    drawCluster(varz);
  }

  // Gannet Streaming, when the server embeds it (gannet-streaming): /streaming/serverz and
  // /streaming/channelsz answer on the same port (the server turns STREAMING on when it serves
  // the page); for a plain gannet-server the panel stays hidden.
  const STREAMING = false;
  async function pollStreaming() {
    if (!STREAMING) return;
    try {
      const r = await fetch("streaming/serverz", { cache: "no-store" });
      if (!r.ok) return;
      const z = await r.json();
      const c = await (await fetch("streaming/channelsz", { cache: "no-store" })).json();
      document.getElementById("streaming").hidden = false;
      document.getElementById("streaming-summary").textContent =
          "cluster id " + z.cluster_id + " - " + z.state + " - " + z.clients + " clients - " +
          z.channels + " channels - " + human(z.total_msgs) + " msgs, " +
          human(z.total_bytes) + " bytes";
      const body = document.querySelector("#channels tbody");
      body.textContent = "";
      for (const ch of c.channels || []) {
        const row = document.createElement("tr");
        for (const v of [ch.name, human(ch.msgs), human(ch.bytes), ch.first_seq, ch.last_seq,
                         ch.subs_count !== undefined ? ch.subs_count : "-"]) {
          cell(row, String(v));
        }
        body.appendChild(row);
      }
      state.streamingSamples = (state.streamingSamples || 0) + 1;
    } catch (e) {
      // not embedded in gannet-streaming, or it is starting
    }
  }

  async function poll() {
    const status = document.getElementById("status");
    try {
      const r = await fetch("varz", { cache: "no-store" });
      if (!r.ok) throw new Error("HTTP " + r.status);
      const v = await r.json();
      const t = Date.parse(v.now) / 1000;
      const last = state.last;
      if (last && t > last.t) {
        const dt = t - last.t;
        push("msgs", [(v.in_msgs - last.in_msgs) / dt, (v.out_msgs - last.out_msgs) / dt]);
        push("bytes", [(v.in_bytes - last.in_bytes) / dt, (v.out_bytes - last.out_bytes) / dt]);
      } else if (!last) {
        push("msgs", [0, 0]);
        push("bytes", [0, 0]);
      }
      push("connections", [v.connections]);
      push("subscriptions", [v.subscriptions]);
      push("slow_consumers", [v.slow_consumers]);
      state.last = { t, in_msgs: v.in_msgs, out_msgs: v.out_msgs,
                     in_bytes: v.in_bytes, out_bytes: v.out_bytes };
      state.samples++;
      state.serverId = v.server_id;
      status.className = "";
      status.textContent = v.server_name + " - version " + v.version + " - up " + v.uptime +
          " - " + v.connections + " connections";
      charts.forEach(draw);
      await pollRoutez(v);
      await pollStreaming();
    } catch (e) {
      state.errors++;
      status.className = "error";
      status.textContent = "cannot reach /varz: " + e.message;
    }
  }
  poll();
  setInterval(poll, 1000);
  window.addEventListener("resize", () => charts.forEach(draw));
})();
</script>
</body>
</html>
)HTML";
}

}  // namespace gannet
