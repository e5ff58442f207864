/**
 * How a kuorum node process is launched: the Node.js flags and environment every launcher uses
 * (node/Dockerfile's ENTRYPOINT and ENV, `make run`, the cluster tier's harness, the e2e
 * kubelet's local image, the bench). They bound the resident memory of a node holding a large
 * state; `test/bench/memory-breakdown.js` shows what each one saves.
 *
 * - `--max-semi-space-size=8`: under a steady write load V8 grows the young generation's
 *   semi-spaces to their maximum (16 MiB or more each on 64-bit) and keeps them committed; 8 MiB
 *   halves that (scavenges are more frequent but short).
 * - `--heap-growing-percent=20`: after a full GC the old generation may grow by 20% before the
 *   next one, instead of V8's dynamic factor of 1.1× up to 4×, so the committed heap stays close
 *   to what is live (the bench's 200,000-key load left ~180 MiB committed for ~50 MiB used).
 * - `MALLOC_ARENA_MAX=2`: glibc gives each thread that allocates (libuv's pool, LevelDB's
 *   compaction, V8's GC helpers) an arena of its own, up to 8 per core, each keeping freed memory;
 *   two arenas are enough for a process whose work runs on one thread.
 * - `MALLOC_MMAP_THRESHOLD_=131072`: allocations of 128 KiB and more (Buffers behind gRPC messages,
 *   LevelDB blocks, snapshot parts) are mmapped and returned to the system when freed instead of
 *   fragmenting the heap; setting it also stops glibc from raising the threshold dynamically.
 *
 * The flags go on the command line (V8 does not take all of them from NODE_OPTIONS); glibc reads
 * its variables once at process start, so they must be in the environment the node is started with.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--heap-growing-percent=20'];

export const NODE_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
};

/**
 * The environment for a node process: `base` (default: this process's) with the runtime
 * settings added; a variable the caller set explicitly in `base` wins, so each can be overridden.
 */
export function nodeEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...NODE_ENV, ...base };
}
