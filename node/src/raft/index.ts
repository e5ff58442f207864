export * from './types.js';
export * from './errors.js';
export { MemoryStorage, entrySize, limitSize } from './memory-storage.js';
