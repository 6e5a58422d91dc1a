// Drives gannet-server's /dashboard in a real browser (Debian's chromium through playwright-core):
// the page loads with no external requests, polls /varz, its charts receive data (connections,
// messages and bytes per second from a live publisher), and a screenshot is saved.
//
// Usage: node dashboard.test.js <gannet-server binary> <screenshot.png>
"use strict";

const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
const net = require("node:net");
const http = require("node:http");
const { chromium } = require("playwright-core");

const [serverBin, screenshotPath] = process.argv.slice(2);
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
  const port = await freePort();
  const httpPort = await freePort();
  const server = spawn(serverBin, ["-a", "127.0.0.1", "-p", String(port), "-m", String(httpPort)],
                       { stdio: ["ignore", "inherit", "inherit"] });
  let browser;
  let publisher;
  const clients = [];
  try {
    await waitFor(async () => (await get(httpPort, "/healthz")).status === 200, "the server");
    const sub = await natsClient(port);
    sub.write("SUB dash.> 1\r\n");
    const pub = await natsClient(port);
    clients.push(sub, pub);
    const payload = "x".repeat(100);
    publisher = setInterval(() => {
      let batch = "";
      for (let i = 0; i < 50; i++) batch += "PUB dash.load " + payload.length + "\r\n" + payload + "\r\n";
      pub.write(batch);
    }, 20);

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

    // Four polls: three rates computed from consecutive /varz answers.
    await page.waitForFunction(() => window.gannetDashboard && window.gannetDashboard.samples >= 4,
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
    assert.equal(last(state.data.subscriptions[0]), 1, "one subscription");
    assert.equal(last(state.data.slow_consumers[0]), 0);
    const inRates = state.data.msgs[0].slice(1);
    const outRates = state.data.msgs[1].slice(1);
    assert.ok(Math.max(...inRates) > 100, "msgs/s in from the publisher: " + inRates);
    assert.ok(Math.max(...outRates) > 100, "msgs/s out to the subscriber: " + outRates);
    assert.ok(Math.max(...state.data.bytes[0].slice(1)) > 10000, "bytes/s in");
    assert.match(state.status, /2 connections/);

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

    await page.screenshot({ path: screenshotPath, fullPage: true });
    assert.deepEqual(foreign, [], "no request leaves the server (no CDN)");
    assert.deepEqual(consoleErrors, []);
    console.log("dashboard: " + state.samples + " samples, charts drawn, screenshot " +
                screenshotPath);
  } finally {
    if (publisher) clearInterval(publisher);
    for (const c of clients) c.destroy();
    if (browser) await browser.close();
    server.kill("SIGTERM");
  }
  const code = await new Promise((resolve) => server.on("exit", (c, sig) => resolve(c ?? sig)));
  assert.equal(code, 0, "the server exits cleanly");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
