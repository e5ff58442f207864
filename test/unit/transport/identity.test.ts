import { describe, expect, it } from 'vitest';
import { checkIdentity, identityMetadata } from '../../../node/src/transport/identity.js';

describe('call identity check', () => {
  const md = (clusterId: string, from: string, to: string) => identityMetadata({ clusterId, from, to });

  it('accepts a call from the same cluster addressed to this member', () => {
    expect(checkIdentity(md('c1', 'a', 'b'), 'b', 'c1')).toEqual({ ok: { clusterId: 'c1', from: 'a', to: 'b' } });
  });

  it('accepts any cluster while this member has not joined one', () => {
    expect(checkIdentity(md('c9', 'a', 'b'), 'b', '')).toEqual({ ok: { clusterId: 'c9', from: 'a', to: 'b' } });
  });

  it('refuses another cluster, another target and missing metadata, saying why', () => {
    const wrongCluster = checkIdentity(md('c2', 'a', 'b'), 'b', 'c1');
    expect(wrongCluster).toMatchObject({ refused: { reason: 'clusterMismatch' } });
    expect('refused' in wrongCluster && wrongCluster.refused.message).toMatch(/cluster ID mismatch.*'c2'.*'c1'/);
    const wrongTarget = checkIdentity(md('c1', 'a', 'x'), 'b', 'c1');
    expect(wrongTarget).toMatchObject({ refused: { reason: 'wrongTarget' } });
    expect('refused' in wrongTarget && wrongTarget.refused.message).toMatch(/meant to reach member 'x' but this is member b/);
    const noFrom = md('c1', '', 'b');
    expect(checkIdentity(noFrom, 'b', 'c1')).toMatchObject({ refused: { reason: 'missingMetadata' } });
    const bare = md('c1', 'a', 'b');
    bare.remove('kuorum-cluster-id');
    expect(checkIdentity(bare, 'b', 'c1')).toMatchObject({ refused: { reason: 'missingMetadata' } });
  });

  it("passes on the caller's advertised address, and ignores a malformed one instead of refusing the call", () => {
    const withAddress = identityMetadata({ clusterId: 'c1', from: 'a', to: 'b', fromAddress: 'a.peers:7000' });
    expect(checkIdentity(withAddress, 'b', 'c1')).toEqual({ ok: { clusterId: 'c1', from: 'a', to: 'b', fromAddress: 'a.peers:7000' } });
    expect(checkIdentity(identityMetadata({ clusterId: 'c1', from: 'a', to: 'b', fromAddress: '[::1]:7000' }), 'b', 'c1')).toMatchObject({ ok: { fromAddress: '[::1]:7000' } });
    for (const bad of ['a.peers', ':7000', 'a.peers:0', 'a.peers:70000', 'a.peers:x', 'a peers:7000', `${'h'.repeat(400)}:7000`]) {
      const md = md0();
      md.set('kuorum-from-address', bad);
      expect(checkIdentity(md, 'b', 'c1'), bad).toEqual({ ok: { clusterId: 'c1', from: 'a', to: 'b' } });
    }
    const twice = md0();
    twice.add('kuorum-from-address', 'x:1');
    twice.add('kuorum-from-address', 'y:2');
    expect(checkIdentity(twice, 'b', 'c1')).toEqual({ ok: { clusterId: 'c1', from: 'a', to: 'b' } });
  });
});

const md0 = () => identityMetadata({ clusterId: 'c1', from: 'a', to: 'b' });
