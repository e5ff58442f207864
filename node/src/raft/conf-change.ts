import type { ConfChange, ConfChangeType, ConfState, NodeId } from './types.js';

const TYPES: ConfChangeType[] = ['addVoter', 'addLearner', 'promote', 'remove'];
const VERSION = 1;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Binary layout: version(1) type(1) idLen(u16 BE) id(utf-8) ctxLen(u32 BE) context.
 */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  const typeCode = TYPES.indexOf(cc.type);
  if (typeCode < 0) throw new Error(`unknown conf change type ${String(cc.type)}`);
  const id = encoder.encode(cc.nodeId);
  if (id.length === 0 || id.length > 0xffff) throw new Error('conf change nodeId must be 1..65535 bytes');
  const ctx = cc.context ?? new Uint8Array();
  const out = new Uint8Array(2 + 2 + id.length + 4 + ctx.length);
  const view = new DataView(out.buffer);
  out[0] = VERSION;
  out[1] = typeCode;
  view.setUint16(2, id.length);
  out.set(id, 4);
  view.setUint32(4 + id.length, ctx.length);
  out.set(ctx, 8 + id.length);
  return out;
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  const fail = (why: string): never => {
    throw new Error(`invalid conf change encoding: ${why}`);
  };
  if (!(data instanceof Uint8Array)) fail('not bytes');
  if (data.length < 8) fail(`too short (${data.length} bytes)`);
  if (data[0] !== VERSION) fail(`unknown version ${data[0]}`);
  const type = TYPES[data[1]!];
  if (type === undefined) fail(`unknown type code ${data[1]}`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const idLen = view.getUint16(2);
  if (idLen === 0 || 8 + idLen > data.length) fail('bad node id length');
  let nodeId = '';
  try {
    nodeId = decoder.decode(data.subarray(4, 4 + idLen));
  } catch {
    fail('node id is not utf-8');
  }
  const ctxLen = view.getUint32(4 + idLen);
  if (8 + idLen + ctxLen !== data.length) fail('bad context length');
  return { type: type!, nodeId, context: data.slice(8 + idLen) };
}

/**
 * The configuration after applying one change, or an explanation why it is a no-op.
 * Every member applies the same entries in the same order, so no-ops are decided identically.
 */
export function nextConfState(cs: ConfState, cc: ConfChange): { conf: ConfState; noop?: string } {
  const voters = new Set(cs.voters);
  const learners = new Set(cs.learners);
  const id: NodeId = cc.nodeId;
  let noop: string | undefined;
  switch (cc.type) {
    case 'addVoter':
      if (voters.has(id)) noop = 'already a voter';
      learners.delete(id);
      voters.add(id);
      break;
    case 'addLearner':
      if (voters.has(id)) noop = 'is a voter (demotion is not supported)';
      else if (learners.has(id)) noop = 'already a learner';
      else learners.add(id);
      break;
    case 'promote':
      if (!learners.has(id)) noop = voters.has(id) ? 'already a voter' : 'not a learner';
      else {
        learners.delete(id);
        voters.add(id);
      }
      break;
    case 'remove':
      if (!voters.has(id) && !learners.has(id)) noop = 'not a member';
      else if (voters.has(id) && voters.size === 1) noop = 'cannot remove the last voter';
      else {
        voters.delete(id);
        learners.delete(id);
      }
      break;
  }
  return { conf: { voters: [...voters].sort(), learners: [...learners].sort() }, noop };
}
