// Drives gannet-server's /dashboard in a real browser (Debian's chromium through playwright-core):
// the page loads with no external requests, polls /varz and /routez, its charts receive data
// (connections, messages and bytes per second from a live publisher), its Cluster panel shows the
// second node of a two-node cluster with the messages coming over the route, and a screenshot is
// saved.
//
// With a gannet-streaming binary as third argument, the Streaming panel is checked too: hidden
// on a plain gannet-server, shown with the embedded streaming server's state on
// gannet-streaming's own dashboard.
//
// Usage: node dashboard.test.js <gannet-server binary> <screenshot.png> [<gannet-streaming>]
"use strict";

const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const net = require("node:net");
const http = require("node:http");
const { chromium } = require("playwright-core");

const [serverBin, screenshotPath, streamingBin] = process.argv.slice(2);
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function get(port, path) {
  return new Promise((resolve, reject) => {
    http.get({ host: "127.0.0.1", port, path }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    }).on("error", reject);
  });
}

async function waitFor(check, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch (e) {
      // not yet
    }
    if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// A raw NATS client: CONNECT, then whatever the test sends.
function natsClient(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    sock.once("error", reject);
    sock.once("data", () => {
      sock.write('CONNECT {"verbose":false,"name":"dashboard-test"}\r\n');
      resolve(sock);
    });
    sock.on("data", () => {});
  });
}

async function main() {
  assert.ok(serverBin && screenshotPath, "usage: dashboard.test.js <gannet-server> <png>");
  // Two nodes routed to each other: the dashboard is the first's; the second only publishes.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gannet-dashboard-"));
  // Six distinct ports (a port just freed may be handed out again).
  const ports = new Set();
  while (ports.size < 6) ports.add(await freePort());
  const [port, httpPort, clusterPort, port2, httpPort2, clusterPort2] = [...ports];
  function startNode(clientPort, monitorPort, ownCluster, peerCluster) {
    const conf = path.join(dir, "node" + clientPort + ".conf");
    fs.writeFileSync(conf, "cluster { name: c, listen: 127.0.0.1:" + ownCluster +
                     ", routes: [nats-route://127.0.0.1:" + peerCluster + "] }\n");
    return spawn(serverBin, ["-c", conf, "-a", "127.0.0.1", "-p", String(clientPort),
                             "-m", String(monitorPort)],
                 { stdio: ["ignore", "inherit", "inherit"] });
  }
  const server = startNode(port, httpPort, clusterPort, clusterPort2);
  const server2 = startNode(port2, httpPort2, clusterPort2, clusterPort);
  let browser;
  const publishers = [];
  const clients = [];
  try {
    const numRoutes = async (p) => JSON.parse((await get(p, "/routez")).body).num_routes;
    await waitFor(async () => (await numRoutes(httpPort)) === 1 && (await numRoutes(httpPort2)) === 1,
                  "the two nodes to route to each other");
    const peerId = JSON.parse((await get(httpPort2, "/varz")).body).server_id;
    const sub = await natsClient(port);
    sub.write("SUB dash.> 1\r\n");
    const pub = await natsClient(port);
    const remotePub = await natsClient(port2);
    clients.push(sub, pub, remotePub);
    // The first node's subscription reaches the second before its publisher starts. (The
    // route also carries the system account's subscriptions: look for this one by name.)
    const routeSubs = async (p) =>
      JSON.parse((await get(p, "/routez?subs=1")).body).routes[0].subscriptions_list || [];
    await waitFor(async () => (await routeSubs(httpPort2)).includes("dash.>"),
                  "the interest to cross the route");
    const payload = "x".repeat(100);
    const publish = (conn, subject) => setInterval(() => {
      let batch = "";
      for (let i = 0; i < 50; i++) batch += "PUB " + subject + " " + payload.length + "\r\n" + payload + "\r\n";
      conn.write(batch);
    }, 20);
    publishers.push(publish(pub, "dash.load"), publish(remotePub, "dash.remote"));

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    const page = await browser.newPage({ viewport: { width: 1300, height: 760 } });
    const consoleErrors = [];
    const foreign = [];
    page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    page.on("request", (r) => {
      if (!r.url().startsWith("http://127.0.0.1:" + httpPort + "/")) foreign.push(r.url());
    });

    const resp = await page.goto("http://127.0.0.1:" + httpPort + "/dashboard");
    assert.equal(resp.status(), 200);
    assert.match(resp.headers()["content-type"], /^text\/html/);
    assert.equal(await page.title(), "gannet-server dashboard");

    // Four polls: three rates computed from consecutive /varz (and /routez) answers.
    await page.waitForFunction(() => window.gannetDashboard && window.gannetDashboard.samples >= 4 &&
                                     window.gannetDashboard.cluster.samples >= 4,
                               null, { timeout: 20000 });
    const state = await page.evaluate(() => ({
      samples: window.gannetDashboard.samples,
      errors: window.gannetDashboard.errors,
      data: window.gannetDashboard.data,
      points: [...document.querySelectorAll("canvas")].map((c) => Number(c.dataset.points)),
      status: document.getElementById("status").textContent,
    }));
    assert.equal(state.errors, 0, "every /varz poll succeeded");
    assert.deepEqual(Object.keys(state.data).sort(),
                     ["bytes", "connections", "msgs", "slow_consumers", "subscriptions"]);
    assert.equal(state.points.length, 5);
    for (const p of state.points) assert.ok(p >= 4, "each chart has its points: " + state.points);
    const last = (series) => series[series.length - 1];
    assert.equal(last(state.data.connections[0]), 2, "two NATS clients connected");
    // What /varz says (the client's subscription, the system account's, the peer's interest).
    const varzSubs = JSON.parse((await get(httpPort, "/varz")).body).subscriptions;
    assert.equal(last(state.data.subscriptions[0]), varzSubs, "the subscriptions /varz counts");
    assert.equal(last(state.data.slow_consumers[0]), 0);
    const inRates = state.data.msgs[0].slice(1);
    const outRates = state.data.msgs[1].slice(1);
    assert.ok(Math.max(...inRates) > 100, "msgs/s in from the publisher: " + inRates);
    assert.ok(Math.max(...outRates) > 100, "msgs/s out to the subscriber: " + outRates);
    assert.ok(Math.max(...state.data.bytes[0].slice(1)) > 10000, "bytes/s in");
    assert.match(state.status, /2 connections/);

    // The Cluster panel: this node and its peer, with the peer's messages coming in.
    const cluster = await page.evaluate(() => ({
      state: window.gannetDashboard.cluster,
      summary: document.getElementById("cluster-summary").textContent,
      rows: [...document.querySelectorAll("#routes tbody tr")].map((r) =>
        [...r.querySelectorAll("td")].map((td) => td.textContent)),
    }));
    assert.equal(cluster.state.errors, 0, "every /routez poll succeeded");
    assert.equal(cluster.state.name, "c");
    assert.equal(cluster.state.routes.length, 1);
    const route = cluster.state.routes[0];
    assert.equal(route.remote_id, peerId);
    // The peer's clients subscribe to nothing: only its system account's interest is there.
    const peerSubs = await routeSubs(httpPort);
    assert.equal(route.subscriptions, peerSubs.length, "the route's subscriptions as /routez");
    assert.ok(!peerSubs.some((s) => s.startsWith("dash.")), "no dash.* interest from the peer");
    assert.ok(route.rates.in_msgs > 100, "msgs/s in over the route: " + route.rates.in_msgs);
    assert.ok(route.rates.in_bytes > 10000, "bytes/s in over the route: " + route.rates.in_bytes);
    assert.equal(cluster.summary, "cluster c - 2 nodes - 1 routes");
    assert.equal(cluster.rows.length, 2, "this node and its peer: " + JSON.stringify(cluster.rows));
    assert.match(cluster.rows[0][0], /\(this server\)$/);
    assert.equal(cluster.rows[0][1], "127.0.0.1:" + clusterPort);
    assert.equal(cluster.rows[1][0], peerId.slice(0, 12) + "...");
    assert.match(cluster.rows[1][2], /^(out|in)(, configured)?$/);

    // The charts were drawn: the line colours are on the canvases.
    const drawn = await page.evaluate(() => [...document.querySelectorAll("canvas")].map((c) => {
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let coloured = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] > 0 && Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 60) coloured++;
      }
      return coloured;
    }));
    for (const n of drawn) assert.ok(n > 10, "every chart has a drawn line: " + drawn);

    // A plain gannet-server has no Streaming panel (and asks for no /streaming page).
    assert.equal(await page.evaluate(() => document.getElementById("streaming").hidden), true);
    assert.equal(await page.evaluate(() => window.gannetDashboard.streamingSamples || 0), 0);

    await page.screenshot({ path: screenshotPath, fullPage: true });
    assert.deepEqual(foreign, [], "no request leaves the server (no CDN)");
    assert.deepEqual(consoleErrors, []);
    console.log("dashboard: " + state.samples + " samples, charts drawn, screenshot " +
                screenshotPath);
  } finally {
    for (const p of publishers) clearInterval(p);
    for (const c of clients) c.destroy();
    if (browser) await browser.close();
    server.kill("SIGTERM");
    server2.kill("SIGTERM");
    fs.rmSync(dir, { recursive: true, force: true });
  }
  for (const s of [server, server2]) {
    const code = s.exitCode ?? s.signalCode ??
        await new Promise((resolve) => s.on("exit", (c, sig) => resolve(c ?? sig)));
    assert.equal(code, 0, "each server exits cleanly");
  }
}

// gannet-streaming's dashboard: the page is the embedded gannet-server's, with the Streaming
// panel filled from /streaming/serverz and /streaming/channelsz.
async function streamingPanel() {
  const ports = new Set();
  while (ports.size < 2) ports.add(await freePort());
  const [port, httpPort] = [...ports];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gannet-dashboard-stan-"));
  const proc = spawn(streamingBin, ["-a", "127.0.0.1", "-p", String(port), "-m", String(httpPort),
                                    "-cid", "dash-cluster"],
                     { stdio: ["ignore", "inherit", "inherit"], cwd: dir });
  let browser;
  try {
    await waitFor(async () => (await get(httpPort, "/streaming/serverz")).status === 200,
                  "gannet-streaming's monitoring");
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    const page = await browser.newPage({ viewport: { width: 1300, height: 760 } });
    const consoleErrors = [];
    page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    await page.goto("http://127.0.0.1:" + httpPort + "/dashboard");
    await page.waitForFunction(() => (window.gannetDashboard.streamingSamples || 0) >= 2, null,
                               { timeout: 20000 });
    const panel = await page.evaluate(() => ({
      hidden: document.getElementById("streaming").hidden,
      summary: document.getElementById("streaming-summary").textContent,
    }));
    assert.equal(panel.hidden, false);
    assert.match(panel.summary, /^cluster id dash-cluster - /);
    assert.match(panel.summary, /0 channels/);
    assert.deepEqual(consoleErrors, []);
    console.log("dashboard: streaming panel: " + panel.summary);
  } finally {
    if (browser) await browser.close();
    proc.kill("SIGTERM");
    await new Promise((resolve) => proc.exitCode !== null ? resolve() : proc.on("exit", resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => (streamingBin ? streamingPanel() : undefined)).catch((e) => {
  console.error(e);
  process.exit(1);
});
