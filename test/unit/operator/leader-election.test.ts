// Leader election against an in-memory Lease store that keeps the API server's optimistic
// concurrency (resourceVersion, 409 on a stale write, 404 when absent). The e2e tier uses a real one.
import { describe, expect, it } from 'vitest';
import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import { LeaderElector } from '../../../operator/src/leader-election.js';

class LeaseStoreSimulator {
  lease: V1Lease | null = null;
  private rv = 0;
  private err(code: number): Error {
    return Object.assign(new Error(`HTTP ${code}`), { code });
  }
  api(): CoordinationV1Api {
    return {
      readNamespacedLease: async () => {
        if (!this.lease) throw this.err(404);
        return structuredClone(this.lease);
      },
      createNamespacedLease: async ({ body }: { body: V1Lease }) => {
        if (this.lease) throw this.err(409);
        this.lease = { ...structuredClone(body), metadata: { ...body.metadata, resourceVersion: String(++this.rv) } };
        return this.lease;
      },
      replaceNamespacedLease: async ({ body }: { body: V1Lease }) => {
        if (!this.lease) throw this.err(404);
        if (body.metadata?.resourceVersion !== this.lease.metadata?.resourceVersion) throw this.err(409);
        this.lease = { ...structuredClone(body), metadata: { ...body.metadata, resourceVersion: String(++this.rv) } };
        return this.lease;
      },
    } as unknown as CoordinationV1Api;
  }
}

const OPTS = { namespace: 'ops', name: 'kuorum-operator', leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };
const noop = { onStartedLeading: () => {}, onStoppedLeading: () => {} };

describe('leader election', () => {
  it('lets one candidate hold the lease until it stops renewing past the lease duration', async () => {
    const store = new LeaseStoreSimulator();
    let now = 1_000_000;
    const a = new LeaderElector(store.api(), { ...OPTS, identity: 'a' }, noop, () => now);
    const b = new LeaderElector(store.api(), { ...OPTS, identity: 'b' }, noop, () => now);
    expect(await a.tryAcquireOrRenew()).toBe(true);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    now += 5_000;
    expect(await a.tryAcquireOrRenew()).toBe(true); // renews
    expect(await b.tryAcquireOrRenew()).toBe(false); // sees a fresh renewal
    now += 14_000;
    expect(await b.tryAcquireOrRenew()).toBe(false); // 14 s since b saw the last change: not expired
    now += 2_000;
    expect(await b.tryAcquireOrRenew()).toBe(true); // a stopped renewing 16 s ago
    expect(store.lease?.spec?.holderIdentity).toBe('b');
    expect(store.lease?.spec?.leaseTransitions).toBe(1);
    expect(await a.tryAcquireOrRenew()).toBe(false);
  });

  it('loses a race on a stale resourceVersion instead of overwriting', async () => {
    const store = new LeaseStoreSimulator();
    let now = 0;
    const a = new LeaderElector(store.api(), { ...OPTS, identity: 'a' }, noop, () => now);
    await a.tryAcquireOrRenew();
    now = 100_000;
    const api = store.api();
    const stale = await api.readNamespacedLease({ name: 'kuorum-operator', namespace: 'ops' });
    const b = new LeaderElector({ ...api, readNamespacedLease: async () => stale } as unknown as CoordinationV1Api, { ...OPTS, identity: 'b' }, noop, () => now);
    await a.tryAcquireOrRenew(); // a renews, moving the resourceVersion on
    expect(await b.tryAcquireOrRenew()).toBe(false);
    expect(store.lease?.spec?.holderIdentity).toBe('a');
  });

  it('releases the lease on stop so a standby takes over at once', async () => {
    const store = new LeaseStoreSimulator();
    const started: string[] = [];
    const a = new LeaderElector(store.api(), { ...OPTS, identity: 'a', retryPeriodMs: 60_000 }, { ...noop, onStartedLeading: () => started.push('a') });
    a.start();
    while (!a.isLeader) await new Promise((r) => setImmediate(r));
    expect(started).toEqual(['a']);
    await a.stop();
    expect(store.lease?.spec?.holderIdentity).toBe('');
    const b = new LeaderElector(store.api(), { ...OPTS, identity: 'b' }, noop);
    expect(await b.tryAcquireOrRenew()).toBe(true);
  });
});
