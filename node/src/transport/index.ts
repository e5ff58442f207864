// Public surface of the peer transport. See README.md in this directory for how a node wires it.
export { PeerTransport } from './peer-transport.js';
export type { MessageHandler, PeerQueueStatus, RefusedCall, TransportStats } from './peer-transport.js';
export type { PeerTransportOptions, SnapshotDataSource } from './options.js';
export { ForwardError } from './forward.js';
export type { ForwardErrorKind, ForwardHandler, ForwardRequest, ForwardResponse, HttpHeaders } from './forward.js';
export type { DropReason, PeerCounters } from './metrics.js';
export type { RefusalReason } from './identity.js';
export { CLUSTER_ID_KEY, FROM_KEY, TO_KEY } from './identity.js';
