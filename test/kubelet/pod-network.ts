import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { onExitSync } from '../controlplane/process-group.js';

const run = promisify(execFile);

async function ip(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('ip', args);
    return stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? String(err);
    throw new Error(`ip ${args.join(' ')}: ${stderr.trim()}`, { cause: err });
  }
}

function ipSync(...args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: 'ignore' });
  } catch {
    // Already gone.
  }
}

const aliasPrefix = 'kuorum-e2e-pid-';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface PodAttachment {
  ip: string;
  /** Path to pass to `nsenter --net=`. */
  netnsPath: string;
  netnsName: string;
}

/**
 * The pod network of one test cluster: a Linux bridge on the host holding the gateway address
 * of a private /24 in 10.244.0.0/16, and one network namespace per pod joined to it by a veth
 * pair. There is no default route in the pods and no forwarding or NAT on the host, so the
 * subnet is reachable only from the host and between pods: nothing leaves the machine.
 */
export class PodNetwork {
  private readonly free: number[] = [];
  private readonly attached = new Map<string, PodAttachment>();
  private nextLink = 0;
  private destroyed = false;
  private readonly unregisterExit: () => void;

  private constructor(readonly subnetIndex: number, readonly bridge: string) {
    for (let host = 2; host < 255; host++) this.free.push(host);
    this.unregisterExit = onExitSync(() => this.destroySync());
  }

  get gateway(): string {
    return `10.244.${this.subnetIndex}.1`;
  }

  get cidr(): string {
    return `10.244.${this.subnetIndex}.0/24`;
  }

  /** Creates the bridge on a /24 nobody else on this machine uses (removing ones left by dead test runs). */
  static async create(): Promise<PodNetwork> {
    await PodNetwork.removeStale();
    const routes = await ip('-4', 'route', 'show');
    const used = new Set([...routes.matchAll(/\b10\.244\.(\d+)\./g)].map((m) => Number(m[1])));
    const candidates = Array.from({ length: 250 }, (_, i) => i + 1).filter((n) => !used.has(n));
    for (let attempt = 0; attempt < 10 && candidates.length > 0; attempt++) {
      const index = candidates.splice(Math.floor(Math.random() * candidates.length), 1)[0] as number;
      const bridge = `kqbr${index}`;
      try {
        await ip('link', 'add', bridge, 'type', 'bridge');
      } catch {
        continue; // Taken by a concurrent run.
      }
      const network = new PodNetwork(index, bridge);
      try {
        await ip('link', 'set', 'dev', bridge, 'alias', `${aliasPrefix}${process.pid}`);
        await ip('addr', 'add', `${network.gateway}/24`, 'dev', bridge);
        await ip('link', 'set', bridge, 'up');
      } catch (err) {
        await network.destroy();
        throw err;
      }
      return network;
    }
    throw new Error('no free 10.244.N.0/24 for a pod network bridge');
  }

  /** Bridges (and their pods' namespaces) of test runs whose process is gone. */
  private static async removeStale(): Promise<void> {
    const links = await ip('-o', 'link', 'show', 'type', 'bridge');
    for (const line of links.split('\n')) {
      const name = /^\d+: (kqbr\d+)[:@]/.exec(line)?.[1];
      const pid = new RegExp(`alias ${aliasPrefix}(\\d+)`).exec(line)?.[1];
      if (!name || !pid || pidAlive(Number(pid))) continue;
      const index = name.slice('kqbr'.length);
      const namespaces = await ip('netns', 'list');
      for (const ns of namespaces.split('\n').map((l) => l.split(' ')[0] ?? '')) {
        if (ns.startsWith(`kq${index}-`)) ipSync('netns', 'del', ns);
      }
      ipSync('link', 'del', name);
    }
  }

  /** A fresh network namespace for a pod, with an address on the bridge and loopback up. */
  async attach(podUid: string): Promise<PodAttachment> {
    if (this.destroyed) throw new Error('pod network destroyed');
    const existing = this.attached.get(podUid);
    if (existing) return existing;
    const host = this.free.shift();
    if (host === undefined) throw new Error(`pod network ${this.cidr} has no free address`);
    const link = this.nextLink++;
    const netnsName = `kq${this.subnetIndex}-${link}`;
    const hostSide = `kq${this.subnetIndex}h${link}`;
    const podSide = `kq${this.subnetIndex}p${link}`;
    const address = `10.244.${this.subnetIndex}.${host}`;
    const attachment = { ip: address, netnsName, netnsPath: `/run/netns/${netnsName}` };
    this.attached.set(podUid, attachment);
    try {
      await ip('netns', 'add', netnsName);
      await ip('link', 'add', hostSide, 'type', 'veth', 'peer', 'name', podSide);
      await ip('link', 'set', podSide, 'netns', netnsName);
      await ip('link', 'set', hostSide, 'master', this.bridge, 'up');
      await ip('-n', netnsName, 'addr', 'add', `${address}/24`, 'dev', podSide);
      await ip('-n', netnsName, 'link', 'set', podSide, 'name', 'eth0');
      await ip('-n', netnsName, 'link', 'set', 'eth0', 'up');
      await ip('-n', netnsName, 'link', 'set', 'lo', 'up');
    } catch (err) {
      await this.detach(podUid);
      throw err;
    }
    return attachment;
  }

  /** Removes a pod's namespace (its veth goes with it) and frees its address. */
  async detach(podUid: string): Promise<void> {
    const attachment = this.attached.get(podUid);
    if (!attachment) return;
    this.attached.delete(podUid);
    ipSync('netns', 'del', attachment.netnsName);
    const host = Number(attachment.ip.split('.')[3]);
    if (!this.free.includes(host)) this.free.push(host);
  }

  async destroy(): Promise<void> {
    this.destroySync();
    this.unregisterExit();
  }

  private destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const attachment of this.attached.values()) ipSync('netns', 'del', attachment.netnsName);
    this.attached.clear();
    ipSync('link', 'del', this.bridge);
  }
}
