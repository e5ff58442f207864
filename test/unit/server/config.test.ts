import { describe, expect, it } from 'vitest';
import { ConfigError, envName, parseConfig, tickSettings } from '../../../node/src/config.js';

describe('node configuration', () => {
  it('applies the documented defaults', () => {
    const c = parseConfig(['--name', 'n1', '--data-dir', '/d'], {})!;
    expect(c).toMatchObject({
      name: 'n1',
      dataDir: '/d',
      listenPeer: { host: '0.0.0.0', port: 7000 },
      listenHttp: { host: '0.0.0.0', port: 8080 },
      advertisePeer: '127.0.0.1:7000',
      bootstrap: false,
      keyCacheBytes: 4 * 1024 * 1024,
      logLevel: 'info',
    });
  });

  it('reads every flag from KUORUM_<FLAG>, flags winning over the environment', () => {
    const env = { KUORUM_NAME: 'envname', KUORUM_DATA_DIR: '/env', KUORUM_ADVERTISE_PEER: 'pod-0.peers:7000', KUORUM_BOOTSTRAP: 'true', KUORUM_ELECTION_TIMEOUT: '2000', KUORUM_SNAPSHOT_THRESHOLD: '7', KUORUM_KEY_CACHE_BYTES: '0' };
    const c = parseConfig(['--name=flag'], env)!;
    expect(c).toMatchObject({ name: 'flag', dataDir: '/env', advertisePeer: 'pod-0.peers:7000', bootstrap: true, electionTimeoutMs: 2000, snapshotThreshold: 7, keyCacheBytes: 0 });
    expect(envName('listen-http')).toBe('KUORUM_LISTEN_HTTP');
  });

  it('refuses bad values with a message naming the flag', () => {
    const bad: [string[], Record<string, string>, RegExp][] = [
      [['--data-dir=/d'], {}, /--name .* is required/],
      [['--name=n', '--data-dir=/d', '--election-timeout=soon'], {}, /--election-timeout must be a whole number/],
      [['--name=n', '--data-dir=/d', '--listen-http=8080'], {}, /--listen-http must be host:port/],
      [['--name=n', '--data-dir=/d', '--listen-peer=h:99999'], {}, /at most 65535/],
      [['--name=n', '--data-dir=/d', '--election-timeout=100', '--heartbeat-interval=100'], {}, /at least 3 times/],
      [['--name=n', '--data-dir=/d', '--log-level=loud'], {}, /--log-level must be one of/],
      [['--name=n', '--data-dir=/d', '--key-cache-bytes=4M'], {}, /--key-cache-bytes must be a whole number/],
      [['--name=n', '--data-dir=/d'], { KUORUM_BOOTSTRAP: 'maybe' }, /KUORUM_BOOTSTRAP must be true or false/],
      [['--name=n', '--data-dir=/d', '--what'], {}, /Unknown option/],
    ];
    for (const [argv, env, msg] of bad) {
      expect(() => parseConfig(argv, env), argv.join(' ')).toThrow(ConfigError);
      expect(() => parseConfig(argv, env)).toThrow(msg);
    }
  });

  it('converts millisecond timeouts to ticks', () => {
    expect(tickSettings({ electionTimeoutMs: 1000, heartbeatIntervalMs: 100 })).toEqual({ tickMs: 100, electionTick: 10, heartbeatTick: 1 });
    expect(tickSettings({ electionTimeoutMs: 3000, heartbeatIntervalMs: 300 })).toEqual({ tickMs: 100, electionTick: 30, heartbeatTick: 3 });
    expect(tickSettings({ electionTimeoutMs: 150, heartbeatIntervalMs: 50 })).toEqual({ tickMs: 50, electionTick: 3, heartbeatTick: 1 });
  });
});
