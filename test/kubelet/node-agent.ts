import { CoordinationV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Node } from '@kubernetes/client-node';

export interface NodeIdentity {
  name: string;
  /** The address pods and the control plane know this node by. */
  hostIp: string;
  kubeletVersion: string;
  /** Port of the kubelet's HTTPS endpoint on hostIp (0: none). */
  kubeletPort: number;
}

const leaseDurationSeconds = 40;
const leaseRenewMs = 5_000;
const statusRefreshMs = 20_000;

const capacity = { cpu: '8', memory: '16Gi', pods: '110', 'ephemeral-storage': '100Gi' };

function isConflictOrExists(err: unknown): boolean {
  const code = (err as { code?: number }).code;
  return code === 409;
}

/**
 * The node half of a kubelet: registers the Node, keeps its Ready condition fresh and renews
 * its Lease in kube-node-lease, so the node-lifecycle controller keeps it schedulable.
 */
export class NodeAgent {
  private leaseTimer: NodeJS.Timeout | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private readonly core: CoreV1Api;
  private readonly coordination: CoordinationV1Api;

  constructor(kc: KubeConfig, private readonly node: NodeIdentity, private readonly log: (msg: string) => void) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.coordination = kc.makeApiClient(CoordinationV1Api);
  }

  async register(): Promise<void> {
    const body: V1Node = {
      metadata: {
        name: this.node.name,
        labels: { 'kubernetes.io/hostname': this.node.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': process.arch === 'x64' ? 'amd64' : process.arch },
      },
    };
    try {
      await this.core.createNode({ body });
    } catch (err) {
      if (!isConflictOrExists(err)) throw err;
    }
    await this.updateStatus();
    await this.renewLease();
    this.leaseTimer = setInterval(() => void this.renewLease().catch((err) => this.log(`lease renewal failed: ${String(err)}`)), leaseRenewMs);
    this.statusTimer = setInterval(() => void this.updateStatus().catch((err) => this.log(`node status update failed: ${String(err)}`)), statusRefreshMs);
  }

  private async updateStatus(): Promise<void> {
    const now = new Date();
    const condition = (type: string, ok: boolean, reason: string, message: string) => ({
      type, status: ok ? 'True' : 'False', reason, message, lastHeartbeatTime: now, lastTransitionTime: now,
    });
    const status = {
      capacity,
      allocatable: capacity,
      conditions: [
        condition('MemoryPressure', false, 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        condition('DiskPressure', false, 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        condition('PIDPressure', false, 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        condition('Ready', true, 'KubeletReady', 'process-kubelet is posting ready status'),
      ],
      addresses: [{ type: 'InternalIP', address: this.node.hostIp }, { type: 'Hostname', address: this.node.name }],
      nodeInfo: {
        architecture: process.arch === 'x64' ? 'amd64' : process.arch,
        operatingSystem: 'linux',
        kubeletVersion: this.node.kubeletVersion,
        kubeProxyVersion: '',
        containerRuntimeVersion: 'process://1',
        kernelVersion: '', osImage: 'process-kubelet', machineID: '', systemUUID: '', bootID: '',
      },
      daemonEndpoints: { kubeletEndpoint: { Port: this.node.kubeletPort } },
    };
    // Strategic merge keeps transition times of conditions we did not change on the server side.
    await this.core.patchNodeStatus({ name: this.node.name, body: { status } }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch));
  }

  private async renewLease(): Promise<void> {
    const namespace = 'kube-node-lease';
    // A MicroTime: the API server wants exactly six fractional digits.
    const renewTime = new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z') as unknown as Date;
    const spec = { holderIdentity: this.node.name, leaseDurationSeconds, renewTime };
    try {
      const lease = await this.coordination.readNamespacedLease({ name: this.node.name, namespace });
      lease.spec = { ...lease.spec, ...spec };
      await this.coordination.replaceNamespacedLease({ name: this.node.name, namespace, body: lease });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
      const node = await this.core.readNode({ name: this.node.name });
      await this.coordination.createNamespacedLease({
        namespace,
        body: {
          metadata: { name: this.node.name, namespace, ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: this.node.name, uid: node.metadata?.uid ?? '' }] },
          spec,
        },
      });
    }
  }

  async stop(): Promise<void> {
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    if (this.statusTimer) clearInterval(this.statusTimer);
  }
}
