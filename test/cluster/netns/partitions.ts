/**
 * Partitions by real packet loss: iptables DROP rules in the receiving host's namespace, in a
 * chain of our own (KUORUM-PARTITION) hooked into INPUT. Dropping on the way in (not OUTPUT) makes
 * the loss silent, as on a real network: the sender sees no error, only missing replies.
 * Only traffic between node addresses is matched, so the test process (on the bridge's gateway
 * address) still reaches every node.
 */
import { run } from './run-command.js';
import type { TestHost } from './test-network.js';

const CHAIN = 'KUORUM-PARTITION';

export class Partitions {
  private readonly blocked = new Set<string>();

  private constructor(private readonly hosts: readonly TestHost[]) {}

  static async install(hosts: readonly TestHost[]): Promise<Partitions> {
    for (const h of hosts) {
      await run('ip', 'netns', 'exec', h.namespace, 'iptables', '-w', '-N', CHAIN);
      await run('ip', 'netns', 'exec', h.namespace, 'iptables', '-w', '-I', 'INPUT', '-j', CHAIN);
    }
    return new Partitions(hosts);
  }

  /** One-way: packets from `from` no longer reach `to` (replies from `to` still reach `from`). */
  async dropOneWay(from: TestHost, to: TestHost): Promise<void> {
    const id = `${from.index}>${to.index}`;
    if (this.blocked.has(id)) return;
    await run('ip', 'netns', 'exec', to.namespace, 'iptables', '-w', '-A', CHAIN, '-s', from.address, '-j', 'DROP');
    this.blocked.add(id);
  }

  async dropBetween(a: TestHost, b: TestHost): Promise<void> {
    await this.dropOneWay(a, b);
    await this.dropOneWay(b, a);
  }

  /** Cuts `side` off from every other host, both ways. */
  async isolate(side: readonly TestHost[]): Promise<void> {
    for (const a of side) for (const b of this.hosts) if (!side.includes(b)) await this.dropBetween(a, b);
  }

  async heal(): Promise<void> {
    for (const h of this.hosts) await run('ip', 'netns', 'exec', h.namespace, 'iptables', '-w', '-F', CHAIN);
    this.blocked.clear();
  }

  /** The DROP rules as iptables lists them, for failure messages and for checking that they are in place. */
  async rules(host: TestHost): Promise<string[]> {
    const out = await run('ip', 'netns', 'exec', host.namespace, 'iptables', '-w', '-S', CHAIN);
    return out.split('\n').filter((l) => l.includes('-j DROP'));
  }

  describe(): string {
    return [...this.blocked].join(' ') || 'none';
  }
}
