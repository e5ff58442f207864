/**
 * kuorum node entry point: flags / KUORUM_* env → config → start; SIGTERM/SIGINT → graceful
 * shutdown (a leader hands leadership over first). Exit codes: 0 clean stop, 1 runtime failure
 * (e.g. a refused data dir), 2 bad flags.
 */
import { ConfigError, parseConfig, usage } from './config.js';
import { createLogger } from './logger.js';
import { startNode } from './start-node.js';

async function main(): Promise<void> {
  let cfg;
  try {
    cfg = parseConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`kuorum: ${err.message}\n(run with --help for the flags)\n`);
      process.exit(2);
    }
    throw err;
  }
  if (cfg === null) {
    process.stdout.write(`${usage()}\n`);
    return;
  }
  const log = createLogger(cfg.logLevel, { node: cfg.name });
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception');
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    log.fatal({ err }, 'unhandled rejection');
    process.exit(1);
  });

  let node;
  try {
    node = await startNode(cfg, log);
  } catch (err) {
    log.fatal({ err }, `cannot start: ${(err as Error).message}`);
    process.exit(1);
  }

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      log.warn(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    log.info(`${signal}: shutting down`);
    node.shutdown().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

void main();
