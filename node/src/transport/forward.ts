// Forward: an HTTP request that only the leader can serve, carried to it over the peer channel.
import * as grpc from '@grpc/grpc-js';
import type { NodeId } from '../raft/types.js';
import type { WireForwardRequest, WireForwardResponse, WireHttpHeader } from './wire-types.js';

/** Header names are lower-case; a repeated header appears once per value. */
export type HttpHeaders = [name: string, value: string][];

export interface ForwardRequest {
  method: string;
  /** Path with the query string, e.g. `/v1/kv/a?consistency=serializable`. */
  path: string;
  headers: HttpHeaders;
  body: Uint8Array;
}

export interface ForwardResponse {
  status: number;
  headers: HttpHeaders;
  body: Uint8Array;
}

export type ForwardHandler = (request: ForwardRequest, from: NodeId) => Promise<ForwardResponse>;

/**
 * unknownPeer: no such peer in the transport; unreachable: no connection to the peer;
 * timeout: no answer within the deadline; refused: the peer rejected this node's identity;
 * interrupted: the call was cut off (either side shutting down) and the peer may or may not
 * have acted on it; remote: the peer's handler failed or forwarding is not enabled there.
 */
export type ForwardErrorKind = 'unknownPeer' | 'unreachable' | 'timeout' | 'refused' | 'interrupted' | 'remote';

export class ForwardError extends Error {
  constructor(
    readonly kind: ForwardErrorKind,
    readonly peerId: NodeId,
    message: string,
  ) {
    super(message);
    this.name = 'ForwardError';
  }
}

export function forwardErrorFromStatus(err: grpc.ServiceError, peerId: NodeId, address: string, timeoutMs: number): ForwardError {
  const where = `forward to member ${peerId} at ${address}`;
  switch (err.code) {
    case grpc.status.DEADLINE_EXCEEDED:
      return new ForwardError('timeout', peerId, `${where}: no answer within ${timeoutMs} ms`);
    case grpc.status.UNAVAILABLE:
      return new ForwardError('unreachable', peerId, `${where}: peer unreachable (${err.details})`);
    case grpc.status.CANCELLED:
      return new ForwardError('interrupted', peerId, `${where}: call interrupted before an answer (${err.details})`);
    case grpc.status.FAILED_PRECONDITION:
      return new ForwardError('refused', peerId, `${where}: refused (${err.details})`);
    default:
      return new ForwardError('remote', peerId, `${where}: ${grpc.status[err.code] ?? err.code} (${err.details})`);
  }
}

function headersOut(h: HttpHeaders): WireHttpHeader[] {
  return h.map(([name, value]) => ({ name, value }));
}

function headersIn(h: WireHttpHeader[] | undefined): HttpHeaders {
  return (h ?? []).map((x) => [x.name, x.value]);
}

function bytesIn(b: Uint8Array | undefined | null): Uint8Array {
  return b ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array();
}

export function encodeForwardRequest(r: ForwardRequest): WireForwardRequest {
  return { method: r.method, path: r.path, headers: headersOut(r.headers), body: r.body };
}

export function decodeForwardRequest(w: WireForwardRequest): ForwardRequest {
  return { method: w.method, path: w.path, headers: headersIn(w.headers), body: bytesIn(w.body) };
}

/** Throws when the status is not a valid HTTP status code. */
export function encodeForwardResponse(r: ForwardResponse): WireForwardResponse {
  if (!Number.isInteger(r.status) || r.status < 100 || r.status > 599) throw new Error(`forward handler returned an invalid HTTP status ${r.status}`);
  return { status: r.status, headers: headersOut(r.headers), body: r.body };
}

export function decodeForwardResponse(w: WireForwardResponse): ForwardResponse {
  return { status: w.status, headers: headersIn(w.headers), body: bytesIn(w.body) };
}
