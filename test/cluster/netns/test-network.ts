/**
 * Network-namespace test hosts: one namespace per node (`kuorum-t<pid>-n<i>`), each joined by a
 * veth pair to a bridge in the host namespace (`kqt<pid>`). The bridge holds the gateway
 * 10.213.<S>.254 of a private /24 that exists only on this machine: no default route inside the
 * namespaces, no forwarding or NAT, so nothing can leave it. The test process on the host reaches
 * the nodes through the bridge.
 */
import { run, runQuietlySync, runSync } from './run-command.js';

const NS_PREFIX = 'kuorum-t';
const BRIDGE_PREFIX = 'kqt';

export interface TestHost {
  index: number;
  namespace: string;
  address: string;
}

/** The host end of a host's veth pair (interface names are at most 15 characters). */
function hostSide(index: number): string {
  return `${BRIDGE_PREFIX}${process.pid}h${index}`;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export class TestNetwork {
  readonly hosts: TestHost[] = [];
  private destroyed = false;
  private readonly onExit = (): void => this.destroySync();

  private constructor(
    readonly subnet: number,
    readonly bridge: string,
  ) {
    process.once('exit', this.onExit);
  }

  get gateway(): string {
    return `10.213.${this.subnet}.254`;
  }

  /** Sweeps what crashed runs left, then creates the bridge and `count` hosts. Throws (clearly) if namespaces cannot be made. */
  static async create(count: number): Promise<TestNetwork> {
    if (process.getuid?.() !== 0) throw new Error('network-namespace test hosts need root (ip netns, iptables)');
    TestNetwork.sweepStale();
    const routes = await run('ip', '-4', 'route', 'show');
    const used = new Set([...routes.matchAll(/\b10\.213\.(\d+)\./g)].map((m) => Number(m[1])));
    const free = Array.from({ length: 250 }, (_, i) => i + 1).filter((s) => !used.has(s));
    const subnet = free[process.pid % free.length];
    if (subnet === undefined) throw new Error('no free 10.213.S.0/24 for the test network');
    const bridge = `${BRIDGE_PREFIX}${process.pid}`;
    const net = new TestNetwork(subnet, bridge);
    try {
      await run('ip', 'link', 'add', bridge, 'type', 'bridge');
      await run('ip', 'addr', 'add', `${net.gateway}/24`, 'dev', bridge);
      await run('ip', 'link', 'set', bridge, 'up');
      for (let i = 1; i <= count; i++) await net.addHost(i);
    } catch (err) {
      net.destroySync();
      throw err;
    }
    return net;
  }

  /** Namespaces and bridges whose creating test process is gone. */
  static sweepStale(): void {
    for (const line of runSync('ip', 'netns', 'list').split('\n')) {
      const m = /^(kuorum-t(\d+)-n\d+)\b/.exec(line);
      if (m && !pidAlive(Number(m[2]))) runQuietlySync('ip', 'netns', 'del', m[1]!);
    }
    for (const line of runSync('ip', '-o', 'link', 'show').split('\n')) {
      const m = /^\d+: (kqt(\d+)(?:h\d+)?)[:@]/.exec(line);
      if (m && !pidAlive(Number(m[2]))) runQuietlySync('ip', 'link', 'del', m[1]!);
    }
  }

  private async addHost(index: number): Promise<TestHost> {
    const namespace = `${NS_PREFIX}${process.pid}-n${index}`;
    const address = `10.213.${this.subnet}.${index}`;

    const host: TestHost = { index, namespace, address };
    this.hosts.push(host);
    await run('ip', 'netns', 'add', namespace);
    await run('ip', 'link', 'add', hostSide(index), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace);
    await run('ip', 'link', 'set', hostSide(index), 'master', this.bridge, 'up');
    await run('ip', '-n', namespace, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
    await run('ip', '-n', namespace, 'link', 'set', 'eth0', 'up');
    await run('ip', '-n', namespace, 'link', 'set', 'lo', 'up');
    return host;
  }

  /** Deleting a namespace takes its veth (and its iptables rules) with it. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    process.removeListener('exit', this.onExit);
    // The veth goes with its namespace, but the kernel may free a namespace late: delete it now.
    for (const h of this.hosts) runQuietlySync('ip', 'link', 'del', hostSide(h.index));
    for (const h of this.hosts) runQuietlySync('ip', 'netns', 'del', h.namespace);
    runQuietlySync('ip', 'link', 'del', this.bridge);
  }
}
