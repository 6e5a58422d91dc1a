// gannet-streaming driven by the official node-nats-streaming client: connect, publish with
// PubAcks, every start position, durables across reconnects, queue groups, manual acks and
// redelivery, close; and, given the gannet tool, messages both ways between node-nats-streaming
// and Gannet's C++ Streaming client (`gannet stream pub|sub`).
// Usage: node stan.test.js <path to gannet-streaming> [<path to gannet>]
'use strict';

const { spawn, execFile } = require('child_process');
const net = require('net');
const assert = require('assert');
const stan = require('node-nats-streaming');

const binary = process.argv[2];
const gannetTool = process.argv[3];
if (!binary) {
  console.error('usage: node stan.test.js <gannet-streaming> [<gannet>]');
  process.exit(2);
}

// Runs `gannet ARGS...` to its end: { code, stdout, stderr }.
function runTool(args) {
  return new Promise((resolve) => {
    execFile(gannetTool, args, { timeout: 20000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code === undefined ? -1 : err.code) : 0, stdout, stderr });
    });
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

function startServer(port) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error('server not ready:\n' + out)), 15000);
    const onData = (d) => {
      out += d.toString();
      if (out.includes('Streaming Server is ready')) {
        clearTimeout(timer);
        resolve({ child, output: () => child.output() });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error('server exited ' + code + ':\n' + out)));
    child.output = () => out;
  });
}

function connect(port, clientId) {
  return new Promise((resolve, reject) => {
    const sc = stan.connect('test-cluster', clientId, { url: 'nats://127.0.0.1:' + port });
    sc.on('connect', () => resolve(sc));
    sc.on('error', reject);
  });
}

function publish(sc, subject, data) {
  return new Promise((resolve, reject) => {
    sc.publish(subject, data, (err, guid) => (err ? reject(err) : resolve(guid)));
  });
}

function close(sc) {
  return new Promise((resolve) => {
    sc.on('close', resolve);
    sc.close();
  });
}

// Collects `n` messages of a subscription (manual acks unless `noAck`).
function collect(sub, n, { noAck = false, timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const got = [];
    const timer = setTimeout(() => reject(new Error(`got ${got.length} of ${n} messages`)), timeoutMs);
    sub.on('message', (m) => {
      got.push({ seq: m.getSequence(), data: m.getData(), redelivered: m.isRedelivered() });
      if (!noAck) m.ack();
      if (got.length === n) {
        clearTimeout(timer);
        resolve(got);
      }
    });
  });
}

function ready(sub) {
  return new Promise((resolve, reject) => {
    sub.on('ready', resolve);
    sub.on('error', reject);
  });
}

async function main() {
  const port = await freePort();
  const server = await startServer(port);
  try {
    const sc = await connect(port, 'node-client');

    // Publish with PubAcks: guids come back.
    for (let i = 1; i <= 5; i++) {
      const guid = await publish(sc, 'orders', 'order-' + i);
      assert.ok(guid, 'a guid for each PubAck');
    }

    // Every start position.
    const all = sc.subscriptionOptions().setManualAckMode(true).setDeliverAllAvailable();
    let sub = sc.subscribe('orders', all);
    let got = await collect(sub, 5);
    assert.deepStrictEqual(got.map((m) => m.seq), [1, 2, 3, 4, 5]);
    assert.strictEqual(got[0].data, 'order-1');
    sub.unsubscribe();

    sub = sc.subscribe('orders', sc.subscriptionOptions().setManualAckMode(true).setStartAtSequence(4));
    got = await collect(sub, 2);
    assert.deepStrictEqual(got.map((m) => m.seq), [4, 5]);
    sub.unsubscribe();

    sub = sc.subscribe('orders', sc.subscriptionOptions().setManualAckMode(true).setStartWithLastReceived());
    got = await collect(sub, 1);
    assert.deepStrictEqual(got.map((m) => m.seq), [5]);
    sub.unsubscribe();

    sub = sc.subscribe('orders', sc.subscriptionOptions().setManualAckMode(true).setStartAtTimeDelta(60000));
    got = await collect(sub, 5);
    assert.strictEqual(got[0].seq, 1);
    sub.unsubscribe();

    // New only: nothing until the next publish.
    sub = sc.subscribe('orders', sc.subscriptionOptions().setManualAckMode(true));
    await ready(sub);
    const next = collect(sub, 1);
    await publish(sc, 'orders', 'order-6');
    got = await next;
    assert.deepStrictEqual(got.map((m) => m.seq), [6]);
    sub.unsubscribe();

    // Durable: resumes after the client reconnects.
    const durOpts = () =>
      sc.subscriptionOptions().setDurableName('dur').setDeliverAllAvailable().setManualAckMode(true);
    let sub2 = sc.subscribe('orders', durOpts());
    got = await collect(sub2, 6);
    sub2.close();
    await new Promise((r) => sub2.on('closed', r));
    await publish(sc, 'orders', 'order-7');
    sub2 = sc.subscribe('orders', durOpts());
    got = await collect(sub2, 1);
    assert.deepStrictEqual(got.map((m) => m.seq), [7], 'the durable resumed where it was');
    sub2.unsubscribe();

    // Manual acks and redelivery: not acked within the ack wait, sent again, redelivered.
    const rsub = sc.subscribe('redo', sc.subscriptionOptions().setManualAckMode(true).setAckWait(1000));
    await ready(rsub);
    const redo = collect(rsub, 2, { noAck: true });
    await publish(sc, 'redo', 'again');
    got = await redo;
    assert.strictEqual(got[0].redelivered, false);
    assert.strictEqual(got[1].redelivered, true);
    assert.strictEqual(got[1].seq, got[0].seq);
    rsub.unsubscribe();

    // Queue group: each message to one member.
    const sc3 = await connect(port, 'node-member');
    const q1 = sc.subscribe('jobs', 'workers', sc.subscriptionOptions().setManualAckMode(true));
    const q2 = sc3.subscribe('jobs', 'workers', sc3.subscriptionOptions().setManualAckMode(true));
    await Promise.all([ready(q1), ready(q2)]);
    const seen = [];
    for (const q of [q1, q2]) {
      q.on('message', (m) => {
        seen.push(m.getSequence());
        m.ack();
      });
    }
    for (let i = 0; i < 20; i++) await publish(sc, 'jobs', 'job');
    const deadline = Date.now() + 10000;
    while (seen.length < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.strictEqual(seen.length, 20);
    assert.strictEqual(new Set(seen).size, 20, 'no message went to two members');

    // Duplicate client id while the first one is alive: refused.
    const dupErr = await connect(port, 'node-client').then(
      (c) => { c.close(); return null; },
      (e) => e);
    assert.ok(dupErr && String(dupErr).includes('clientID already registered'), String(dupErr));

    // Gannet's C++ Streaming client (through the gannet tool) and node-nats-streaming.
    if (gannetTool) {
      const url = 'nats://127.0.0.1:' + port;
      for (let i = 1; i <= 3; i++) await publish(sc, 'bridge', 'from node ' + i);
      let r = await runTool(['stream', 'sub', '-s', url, 'bridge', '--all', '--count', '3', '--raw']);
      assert.strictEqual(r.code, 0, r.stderr);
      assert.strictEqual(r.stdout, 'from node 1\nfrom node 2\nfrom node 3\n');
      const nsub = sc.subscribe('bridge', sc.subscriptionOptions().setManualAckMode(true));
      await ready(nsub);
      const fromGannet = collect(nsub, 1);
      r = await runTool(['stream', 'pub', '-s', url, 'bridge', 'from gannet']);
      assert.strictEqual(r.code, 0, r.stderr);
      got = await fromGannet;
      assert.deepStrictEqual(got, [{ seq: 4, data: 'from gannet', redelivered: false }]);
      nsub.unsubscribe();
    }

    await close(sc3);
    await close(sc);
    console.log('node-nats-streaming: all checks passed');
  } finally {
    // A graceful stop; a sanitized server reports on its way out.
    const exited = new Promise((r) => server.child.on('exit', r));
    server.child.kill('SIGTERM');
    await exited;
    const out = server.output();
    for (const marker of ['ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:',
                          'WARNING: ThreadSanitizer']) {
      if (out.includes(marker)) throw new Error('sanitizer report in the server output:\n' + out);
    }
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error('FAILED:', err && err.stack ? err.stack : err);
    process.exit(1);
  });
