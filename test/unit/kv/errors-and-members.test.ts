import { describe, expect, it } from 'vitest';
import {
  InvalidCommandError,
  KeyNotFoundError,
  PreconditionFailedError,
  applyMemberChange,
  parseMemberContext,
  resultError,
  type Member,
} from '../../../node/src/kv/index.js';

describe('typed errors for apply results', () => {
  it('maps each failed result to an error with a code, and successes to null', () => {
    const pre = resultError({ index: 1, kind: 'precondition', requestId: 'r', currentModRevision: 5 }, 'k');
    expect(pre).toBeInstanceOf(PreconditionFailedError);
    expect(pre).toMatchObject({ code: 'precondition_failed', currentModRevision: 5, message: expect.stringMatching(/current modRevision is 5/) });
    const absent = resultError({ index: 1, kind: 'precondition', requestId: 'r', currentModRevision: 0 }, 'k');
    expect(absent?.message).toMatch(/"k": it does not exist/);
    expect(resultError({ index: 1, kind: 'notFound', requestId: 'r' }, 'k')).toBeInstanceOf(KeyNotFoundError);
    expect(resultError({ index: 1, kind: 'notFound', requestId: 'r' }, 'k')).toMatchObject({ code: 'not_found' });
    expect(resultError({ index: 1, kind: 'invalid', message: 'bad' }, 'k')).toBeInstanceOf(InvalidCommandError);
    expect(resultError({ index: 1, kind: 'ok', requestId: 'r', revision: 3 }, 'k')).toBeNull();
  });
});

describe('members registry', () => {
  it('reads the member context and tolerates a garbled one without diverging', () => {
    expect(parseMemberContext(new TextEncoder().encode('{"name":"kv-0","peerAddress":"127.0.0.1:7000"}'))).toEqual({ name: 'kv-0', peerAddress: '127.0.0.1:7000' });
    expect(parseMemberContext(new TextEncoder().encode('{"name":'))).toBeNull();
    expect(parseMemberContext(new TextEncoder().encode('[]'))).toBeNull();
    const next = applyMemberChange(new Map(), { type: 'addLearner', nodeId: 'bb', context: new Uint8Array([0xff]) }, { voters: ['aa'], learners: ['bb'] });
    expect([...next.values()]).toEqual([
      { id: 'bb', name: '', peerAddress: '', role: 'learner' },
      { id: 'aa', name: '', peerAddress: '', role: 'voter' },
    ]);
  });

  it('takes membership and roles from the ConfState the core returned', () => {
    const before = new Map<string, Member>([
      ['aa', { id: 'aa', name: 'kv-0', peerAddress: 'a:1', role: 'voter' }],
      ['bb', { id: 'bb', name: 'kv-1', peerAddress: 'b:1', role: 'learner' }],
    ]);
    const promoted = applyMemberChange(before, { type: 'promote', nodeId: 'bb', context: new Uint8Array() }, { voters: ['aa', 'bb'], learners: [] });
    expect(promoted.get('bb')).toEqual({ id: 'bb', name: 'kv-1', peerAddress: 'b:1', role: 'voter' });
    const removed = applyMemberChange(promoted, { type: 'remove', nodeId: 'aa', context: new Uint8Array() }, { voters: ['bb'], learners: [] });
    expect([...removed.keys()]).toEqual(['bb']);
  });
});
