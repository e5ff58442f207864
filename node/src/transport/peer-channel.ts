// The gRPC channel to one peer, replaced by a fresh one when a connection attempt hangs.
import * as grpc from '@grpc/grpc-js';

/**
 * grpc-js keeps dialing the last address a name resolved to while a new lookup fails, and the
 * kernel can take a minute or more to give up on an address that vanished (a restarted pod comes
 * back under its name with a new IP, and the old one is nobody's). grpc-js has no connect
 * deadline of its own, so the sender sets one and renews the channel when it passes: the new
 * channel looks the name up from scratch.
 */
export class PeerChannel {
  private client: grpc.Client;
  private renewed = 0;

  constructor(
    readonly address: string,
    private readonly options: grpc.ChannelOptions,
  ) {
    this.client = this.create();
  }

  get current(): grpc.Client {
    return this.client;
  }

  /** How many times the channel was replaced (for tests and diagnostics). */
  get renewals(): number {
    return this.renewed;
  }

  /** Closes the current channel and starts a new one; calls still on the old one fail. */
  renew(): void {
    const old = this.client;
    this.client = this.create();
    this.renewed++;
    old.close();
  }

  close(): void {
    this.client.close();
  }

  private create(): grpc.Client {
    return new grpc.Client(this.address, grpc.credentials.createInsecure(), this.options);
  }
}
