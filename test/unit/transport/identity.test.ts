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
});
