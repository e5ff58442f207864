import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../operator/src/config.js';

describe('operator configuration', () => {
  it('has working defaults and reads the pod identity from the environment', () => {
    const c = parseConfig([], { POD_NAME: 'op-1', POD_NAMESPACE: 'kuorum-system' });
    expect(c).toMatchObject({ httpAddress: { host: '0.0.0.0', port: 8080 }, leaderElect: true, leaseNamespace: 'kuorum-system', leaseName: 'kuorum-operator', identity: 'op-1', workers: 4, nodeTimeoutMs: 3000, nodePort: 8080 });
    expect(c.namespace).toBeUndefined();
    expect(c.kubeconfig).toBeUndefined();
  });

  it('takes flags over the environment', () => {
    const c = parseConfig(['--kubeconfig', '/k', '--namespace', 'apps', '--http-address', '127.0.0.1:9000', '--leader-elect=false', '--workers', '2'], { WATCH_NAMESPACE: 'other' });
    expect(c).toMatchObject({ kubeconfig: '/k', namespace: 'apps', httpAddress: { host: '127.0.0.1', port: 9000 }, leaderElect: false, workers: 2, leaseNamespace: 'apps' });
  });

  it('rejects bad input with a clear error', () => {
    expect(() => parseConfig(['--bogus'], {})).toThrow(ConfigError);
    expect(() => parseConfig(['--http-address', 'nope'], {})).toThrow(/HOST:PORT/);
    expect(() => parseConfig(['--workers', '0'], {})).toThrow(/positive integer/);
    expect(() => parseConfig(['--leader-elect=maybe'], {})).toThrow(/true or false/);
  });
});
