/**
 * A client history under faults, checked for linearizability by porcupine (test/linearizability).
 * 8 concurrent clients do put / get / If-Match CAS on 4 keys through random members of a 3-node
 * cluster (one network namespace each) while the test kills the leader with SIGKILL and restarts
 * it, isolates the leader, isolates a follower, adds a fourth member and removes another, and
 * cuts one way between the leader and the others. The history is kept (path printed) on failure.
 * Needs root, iproute2/iptables and Go: without them it fails, it never skips.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from './harness.js';
import { waitConverged } from './netns/convergence.js';
import { NsCluster } from './netns/ns-cluster.js';
import { buildChecker, CHECKER_SOURCE, runChecker } from '../linearizability/checker.js';
import { HistoryRecorder } from '../linearizability/history-recorder.js';
import { withStaleRead } from '../linearizability/inject-stale-read.js';
import { KvClients } from '../linearizability/kv-clients.js';

describe('linearizability of a client history under kill -9 and partitions (porcupine)', () => {
  let checker: string;
  let cluster: NsCluster | undefined;
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'kuorum-linearizability-'));
  let keepOutput = true;

  beforeAll(() => {
    checker = buildChecker();
  });
  afterAll(async () => {
    await cluster?.destroy();
    if (!keepOutput) rmSync(outDir, { recursive: true, force: true });
  });

  it('the checker rejects a hand-made non-linearizable history and accepts a linearizable one', () => {
    const bad = runChecker(checker, path.join(CHECKER_SOURCE, 'testdata/stale-read.json'), outDir);
    expect(bad.code, bad.output).toBe(1);
    expect(bad.output).toContain('key "x"');
    expect(bad.output).toMatch(/violation-x\.html/);
    const good = runChecker(checker, path.join(CHECKER_SOURCE, 'testdata/linearizable.json'), outDir);
    expect(good.code, good.output).toBe(0);
  });

  it('8 clients through random members under kill -9, partitions and a membership change: zero violations', async () => {
    cluster = await NsCluster.form(3, 1);
    const c = cluster;
    const recorder = new HistoryRecorder();
    const clients = new KvClients({
      clients: 8,
      keys: ['lin/a', 'lin/b', 'lin/c', 'lin/d'],
      targets: () => c.nodes.map((n) => n.baseUrl),
      recorder,
      requestTimeoutMs: 6_000,
      maxOpsPerClient: 3_000,
      thinkMs: 5,
    });
    const load = clients.run();
    const faults: string[] = [];
    try {
      await sleep(3_000);

      const killed = await c.leader();
      faults.push(`kill -9 ${killed.name}`);
      await killed.kill('SIGKILL');
      await sleep(2_000);
      killed.start();
      await killed.waitUp();
      await sleep(3_000);

      const isolated = await c.leader();
      faults.push(`isolate leader ${isolated.name}`);
      await c.partitions.isolate([isolated.host]);
      await sleep(4_000);
      await c.partitions.heal();
      await sleep(3_000);

      const leader = await c.leader();
      const follower = c.nodes.find((n) => n !== leader)!;
      faults.push(`isolate follower ${follower.name}`);
      await c.partitions.isolate([follower.host]);
      await sleep(3_000);
      await c.partitions.heal();
      await sleep(2_000);

      const spare = c.nodes[3]!;
      faults.push(`add ${spare.name}`);
      await c.join(spare);
      const leaderNow = await c.leader();
      const removed = c.nodes.find((n) => n !== spare && n !== leaderNow && n.running)!;
      faults.push(`remove ${removed.name}`);
      await c.remove(removed);
      await removed.kill('SIGTERM');
      await sleep(2_000);

      const oneWayFrom = await c.leader();
      faults.push(`drop ${oneWayFrom.name} → others`);
      for (const n of c.nodes) if (n !== oneWayFrom) await c.partitions.dropOneWay(oneWayFrom.host, n.host);
      await sleep(3_000);
      await c.partitions.heal();

      const victim = await c.leader();
      faults.push(`kill -9 ${victim.name}`);
      await victim.kill('SIGKILL');
      await sleep(3_000);
      victim.start();
      await victim.waitUp();
      await sleep(2_000);
    } finally {
      clients.stop();
      await load;
    }
    expect(clients.unexpected.map((e) => e.message)).toEqual([]);

    const historyFile = path.join(outDir, 'history.json');
    recorder.save(historyFile);
    const counts = recorder.counts();
    // The history must be worth checking: writes and reads succeeded, and some overlapped the faults.
    expect(counts.put ?? 0, JSON.stringify(counts)).toBeGreaterThan(50);
    expect(counts.get ?? 0, JSON.stringify(counts)).toBeGreaterThan(50);

    const verdict = runChecker(checker, historyFile, outDir);
    console.log(`faults: ${faults.join('; ')}\nhistory ${historyFile}: ${JSON.stringify(counts)}\n${verdict.output}`);
    expect(verdict.code, `${verdict.output}\nhistory: ${historyFile}\n${c.logs()}`).toBe(0);

    const stale = withStaleRead(recorder.operations);
    expect(stale, 'the history has a read that can be made stale').toBeDefined();
    const staleFile = path.join(outDir, 'history-with-a-stale-read.json');
    writeFileSync(staleFile, JSON.stringify({ operations: stale }));
    expect(runChecker(checker, staleFile, outDir).code, 'the same history with one stale read').toBe(1);

    await waitConverged(c, c.nodes.filter((n) => n.running));
    keepOutput = false;
  });
});
