export * from './types.js';
export * from './errors.js';
export { MemoryStorage, entrySize, limitSize } from './memory-storage.js';
export { RawNode, encodeConfChange, decodeConfChange } from './raw-node.js';
export { RAFT_DEFAULTS, resolveConfig } from './config.js';
export { nextConfState } from './conf-change.js';
export { TRANSFER_CONTEXT } from './messages.js';
