/**
 * A REAL node in this process (RawNode, LevelDB, gRPC transport, HTTP server) on loopback ports
 * chosen by the OS, started from command-line flags the way main.ts starts one; quiet, and any
 * fatal error is thrown (the test fails) instead of exiting the process.
 */
import { parseConfig } from '../../../node/src/config.js';
import { createLogger } from '../../../node/src/logger.js';
import { startNode, type RunningNode } from '../../../node/src/start-node.js';

const quiet = createLogger('silent');

export function startRealNode(name: string, dataDir: string, flags: string[]): Promise<RunningNode> {
  const cfg = parseConfig([`--name=${name}`, `--data-dir=${dataDir}`, '--listen-http=127.0.0.1:0', '--listen-peer=127.0.0.1:0', ...flags], {})!;
  return startNode(cfg, quiet, {
    processMetrics: false,
    onFatal: (err) => {
      throw err;
    },
  });
}
