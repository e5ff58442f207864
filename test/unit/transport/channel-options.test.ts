import { describe, expect, it } from 'vitest';
import { clientChannelOptions, resolveOptions } from '../../../node/src/transport/options.js';

describe('peer channel options', () => {
  it('looks a peer name up again within a second of a failed connection (a restarted pod has a new address)', () => {
    const o = clientChannelOptions(resolveOptions({ selfId: 'a', clusterId: '' }));
    expect(o['grpc.dns_min_time_between_resolutions_ms']).toBeLessThanOrEqual(1_000);
    expect(o['grpc.max_reconnect_backoff_ms']).toBe(5_000);
    expect(o['grpc.enable_retries']).toBe(0);
  });
});
