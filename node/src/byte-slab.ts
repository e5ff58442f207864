/**
 * Small byte arrays carved out of shared 128 KiB slabs, for encodings that are made often and
 * live for a while (Raft entry data). Allocating a fresh ArrayBuffer costs about ten times more
 * than a view on an existing one, and each ArrayBuffer carries a few hundred bytes of bookkeeping
 * (its object, its backing store, its malloc header) besides its bytes (Buffer.allocUnsafe pools
 * the same way, but gives a Buffer). A slab is freed once no view on it is left, so it suits
 * data that is dropped roughly in the order it was made, as a log is.
 *
 * 128 KiB is the node's MALLOC_MMAP_THRESHOLD_ (runtime-settings.ts): each slab is a mapping of
 * its own, returned to the system when the log drops it. Smaller slabs came from the brk heap,
 * where the log's peak (the entries a follower holds just before a snapshot lets it compact,
 * up to ~70,000 in the memory bench) stayed resident as free holes after the compaction: the
 * [heap] mapping held 41-50 MiB after the bench's 200,000-key load with 8 KiB slabs, 29-35 MiB
 * with these.
 */
export const SLAB_SIZE = 128 * 1024;
const POOLED_MAX = 2048;
let slab = new ArrayBuffer(SLAB_SIZE);
let slabOffset = 0;

/** A view of `size` bytes (not zeroed) in the current slab; above 2 KiB, an ArrayBuffer of its own. */
export function slabBytes(size: number): Uint8Array {
  if (size > POOLED_MAX) return new Uint8Array(size);
  if (slabOffset + size > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabOffset = 0;
  }
  const view = new Uint8Array(slab, slabOffset, size);
  slabOffset += (size + 7) & ~7;
  return view;
}

/** A copy of `bytes` in a slab (or in a buffer of its own when large). */
export function slabCopy(bytes: Uint8Array): Uint8Array {
  const copy = slabBytes(bytes.byteLength);
  copy.set(bytes);
  return copy;
}
