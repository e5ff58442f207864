// Who is calling whom: the metadata every peer call carries, and the receiver's check of it.
import * as grpc from '@grpc/grpc-js';
import type { NodeId } from '../raft/types.js';

export const CLUSTER_ID_KEY = 'kuorum-cluster-id';
export const FROM_KEY = 'kuorum-from';
export const TO_KEY = 'kuorum-to';
/** Optional: the host:port the caller's peers dial (absent from older senders). */
export const FROM_ADDRESS_KEY = 'kuorum-from-address';

export interface CallIdentity {
  clusterId: string;
  from: NodeId;
  to: NodeId;
  /** The caller's advertised peer address, when it sent a well-formed one. */
  fromAddress?: string;
}

export type RefusalReason = 'missingMetadata' | 'clusterMismatch' | 'wrongTarget';

export interface Refusal {
  reason: RefusalReason;
  /** Human-readable, sent back to the caller as the status details. */
  message: string;
  identity: Partial<CallIdentity>;
}

export function identityMetadata(id: CallIdentity): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(CLUSTER_ID_KEY, id.clusterId);
  md.set(FROM_KEY, id.from);
  md.set(TO_KEY, id.to);
  if (id.fromAddress) md.set(FROM_ADDRESS_KEY, id.fromAddress);
  return md;
}

function single(md: grpc.Metadata, key: string): string | undefined {
  const values = md.get(key);
  if (values.length !== 1) return undefined;
  const v = values[0];
  return typeof v === 'string' ? v : undefined;
}

/**
 * Checks an incoming call against this node. `ownClusterId` is '' while this node has not
 * joined a cluster: then any cluster ID is accepted (the node learns it from its leader).
 */
export function checkIdentity(md: grpc.Metadata, selfId: NodeId, ownClusterId: string): { ok: CallIdentity } | { refused: Refusal } {
  const clusterId = single(md, CLUSTER_ID_KEY);
  const from = single(md, FROM_KEY);
  const to = single(md, TO_KEY);
  const identity = { clusterId, from, to };
  if (clusterId === undefined || from === undefined || from === '' || to === undefined) {
    return {
      refused: {
        reason: 'missingMetadata',
        message: `peer call must carry exactly one each of ${CLUSTER_ID_KEY}, ${FROM_KEY} (non-empty) and ${TO_KEY}`,
        identity,
      },
    };
  }
  if (ownClusterId !== '' && clusterId !== ownClusterId) {
    return {
      refused: {
        reason: 'clusterMismatch',
        message: `cluster ID mismatch: member ${from} belongs to cluster '${clusterId}' but member ${selfId} belongs to cluster '${ownClusterId}'`,
        identity,
      },
    };
  }
  if (to !== selfId) {
    return {
      refused: {
        reason: 'wrongTarget',
        message: `wrong target: member ${from} meant to reach member '${to}' but this is member ${selfId}`,
        identity,
      },
    };
  }
  const fromAddress = advertisedAddress(single(md, FROM_ADDRESS_KEY));
  return { ok: fromAddress === undefined ? { clusterId, from, to } : { clusterId, from, to, fromAddress } };
}

const MAX_ADDRESS_LENGTH = 300;

/** A usable host:port, or undefined: a malformed address is ignored, never a reason to refuse the call. */
function advertisedAddress(value: string | undefined): string | undefined {
  if (value === undefined || value.length > MAX_ADDRESS_LENGTH || /\s/.test(value)) return undefined;
  const colon = value.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const port = Number(value.slice(colon + 1));
  return Number.isInteger(port) && port > 0 && port < 65536 ? value : undefined;
}
