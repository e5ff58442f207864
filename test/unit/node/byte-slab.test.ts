import { describe, expect, it } from 'vitest';
import { SLAB_SIZE, slabBytes, slabCopy } from '../../../node/src/byte-slab.js';
import { NODE_ENV } from '../../../node/src/runtime-settings.js';

describe('byte slabs', () => {
  it('are large enough for glibc to map each one on its own (returned to the system when freed, not left in the brk heap)', () => {
    const threshold = Number(NODE_ENV.MALLOC_MMAP_THRESHOLD_);
    expect(SLAB_SIZE).toBeGreaterThanOrEqual(threshold);
    expect(slabBytes(300).buffer.byteLength).toBeGreaterThanOrEqual(threshold);
  });

  it('hand out consecutive, non-overlapping views, and a new slab when the current one is full', () => {
    const a = slabBytes(300);
    const b = slabBytes(300);
    expect(b.buffer).toBe(a.buffer);
    expect(b.byteOffset).toBe(a.byteOffset + 304); // 8-byte aligned
    let last = b;
    const slab = b.buffer;
    while (last.buffer === slab) last = slabBytes(2048);
    expect(last.byteOffset).toBe(0);
    expect(slabCopy(Uint8Array.of(1, 2, 3))).toEqual(Uint8Array.of(1, 2, 3));
    expect(slabBytes(4096).buffer.byteLength).toBe(4096); // above 2 KiB: a buffer of its own
  });
});
