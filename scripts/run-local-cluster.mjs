#!/usr/bin/env node
// `make run`: a local 3-node kuorum cluster on 127.0.0.1, data kept under .data/ between runs.
// First run: node 1 bootstraps, nodes 2 and 3 start unjoined and are added through the admin
// API as learners, then promoted. Later runs reuse the data and just start the three nodes.
// Ctrl-C stops them cleanly (SIGTERM: the leader hands over leadership first).
/* global AbortSignal */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataRoot = path.join(repo, '.data');
const main = path.join(repo, 'dist/node/src/main.js');
// Node flags and environment every kuorum launch uses (node/src/runtime-settings.ts).
const { NODE_FLAGS, nodeEnv } = await import(path.join(repo, 'dist/node/src/runtime-settings.js'));
const basePort = Number(process.env.KUORUM_RUN_BASE_PORT ?? 8081);
const nodes = [1, 2, 3].map((i) => ({
  name: `n${i}`,
  http: basePort + i - 1,
  peer: basePort - 1000 + i - 1,
  dataDir: path.join(dataRoot, `n${i}`),
  proc: null,
}));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function api(node, method, urlPath, body) {
  const res = await fetch(`http://127.0.0.1:${node.http}${urlPath}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

async function until(what, fn, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

function start(node, extra) {
  mkdirSync(dataRoot, { recursive: true });
  const log = createWriteStream(path.join(dataRoot, `${node.name}.log`), { flags: 'a' });
  const args = [...NODE_FLAGS, main, `--name=${node.name}`, `--data-dir=${node.dataDir}`, `--listen-http=127.0.0.1:${node.http}`, `--listen-peer=127.0.0.1:${node.peer}`, `--advertise-peer=127.0.0.1:${node.peer}`, ...extra];
  // Own process group: a terminal's Ctrl-C reaches only this script, which stops the nodes once, gracefully.
  node.proc = spawn(process.execPath, args, { cwd: repo, env: nodeEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  node.proc.stdout.pipe(log);
  node.proc.stderr.pipe(log);
  node.proc.on('exit', (code, signal) => {
    node.proc = null;
    if (!stopping) console.log(`${node.name} exited (${signal ?? code}); see .data/${node.name}.log`);
  });
}

let stopping = false;
async function stopAll(exitCode = 0) {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping the cluster…');
  for (const n of nodes) n.proc?.kill('SIGTERM');
  await until('the nodes to stop', async () => nodes.every((n) => n.proc === null), 15_000).catch(() => {
    for (const n of nodes) n.proc?.kill('SIGKILL');
  });
  console.log(`stopped; data kept in ${path.relative(process.cwd(), dataRoot) || '.data'}/ (rm -rf .data to start over)`);
  process.exit(exitCode);
}
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));
process.on('exit', () => {
  for (const n of nodes) n.proc?.kill('SIGKILL');
});

async function run() {
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`make build\` first`);
  // Data from a kuorum whose Raft log was a LevelDB (raft/): the nodes refuse it (log_format).
  if (nodes.some((n) => existsSync(path.join(n.dataDir, 'raft')))) {
    throw new Error('.data/ holds data from an older kuorum (its Raft log was a LevelDB), which this version cannot read: rm -rf .data to start over');
  }
  const formed = existsSync(path.join(nodes[0].dataDir, 'member.json'));
  start(nodes[0], formed ? [] : ['--bootstrap']);
  for (const n of nodes.slice(1)) start(n, []);
  const ids = {};
  for (const n of nodes) ids[n.name] = await until(`${n.name} to answer`, async () => (await api(n, 'GET', '/v1/status')).json?.id);

  const leader = await until('a leader', async () => {
    for (const n of nodes) {
      const s = (await api(n, 'GET', '/v1/status').catch(() => undefined))?.json;
      if (s?.role === 'leader') return n;
    }
    return undefined;
  });
  const members = (await api(leader, 'GET', '/v1/members')).json.members;
  for (const n of nodes.slice(1)) {
    const m = members.find((x) => x.id === ids[n.name]);
    if (!m) {
      const add = await api(leader, 'POST', '/v1/members', { id: ids[n.name], name: n.name, peerAddress: `127.0.0.1:${n.peer}`, learner: true });
      if (add.status !== 201) throw new Error(`adding ${n.name} failed: ${add.status} ${add.text}`);
      console.log(`added ${n.name} (${ids[n.name]}) as a learner`);
    }
    if (!m || m.role === 'learner') {
      await until(`${n.name} to be promoted`, async () => {
        const r = await api(leader, 'POST', `/v1/members/${ids[n.name]}/promote`);
        if (r.status === 200) return true;
        if (r.status !== 409 && r.status !== 503) throw new Error(`promote ${n.name}: ${r.status} ${r.text}`);
        return false;
      });
      console.log(`promoted ${n.name} to voter`);
    }
  }
  await until('all nodes ready', async () => {
    for (const n of nodes) if ((await api(n, 'GET', '/readyz')).status !== 200) return false;
    return true;
  });

  const u = (n) => `http://127.0.0.1:${n.http}`;
  console.log(`
kuorum: 3 nodes up${formed ? ' (reusing .data/)' : ''}; logs in .data/n{1,2,3}.log
${nodes.map((n) => `  ${n.name}  id ${ids[n.name]}  http ${u(n)}  peer 127.0.0.1:${n.peer}`).join('\n')}

try:
  curl -X PUT --data-binary 'hello' ${u(nodes[0])}/v1/kv/greeting
  curl -i ${u(nodes[1])}/v1/kv/greeting
  curl '${u(nodes[2])}/v1/kv?prefix=gr'
  curl -N '${u(nodes[0])}/v1/watch?prefix=gr'
  curl ${u(nodes[0])}/v1/members
  curl ${u(nodes[1])}/v1/status
  curl -X POST ${u(nodes[0])}/v1/leader/transfer
  curl ${u(nodes[0])}/metrics
Ctrl-C stops the cluster (data is kept).`);
}

run().catch(async (err) => {
  console.error(`make run failed: ${err.message}`);
  await stopAll(1);
});
