import type { V1ContainerStatus, V1Pod, V1PodCondition, V1PodStatus } from '@kubernetes/client-node';

export interface PodObservation {
  pod: V1Pod;
  podIp: string | undefined;
  hostIp: string;
  startTime: Date;
  initStatuses: V1ContainerStatus[];
  containerStatuses: V1ContainerStatus[];
  /** Every init container completed successfully. */
  initialized: boolean;
  restartPolicy: string;
}

/** The phase the real kubelet would report for these container states. */
export function podPhase(o: PodObservation): 'Pending' | 'Running' | 'Succeeded' | 'Failed' {
  const inits = o.initStatuses;
  if (inits.some((s) => s.state?.terminated && s.state.terminated.exitCode !== 0) && o.restartPolicy === 'Never') return 'Failed';
  if (!o.initialized || o.containerStatuses.length === 0) return 'Pending';
  const states = o.containerStatuses.map((s) => s.state ?? {});
  if (states.every((s) => s.waiting?.reason === 'ContainerCreating' || s.waiting?.reason === 'PodInitializing')) return 'Pending';
  if (states.every((s) => s.terminated)) {
    return states.every((s) => s.terminated?.exitCode === 0) ? 'Succeeded' : 'Failed';
  }
  return 'Running';
}

/** Keeps lastTransitionTime stable while a condition's status does not change. */
export class ConditionClock {
  private readonly since = new Map<string, { status: string; time: Date }>();

  condition(type: string, ok: boolean, reason?: string): V1PodCondition {
    const status = ok ? 'True' : 'False';
    let entry = this.since.get(type);
    if (!entry || entry.status !== status) {
      entry = { status, time: new Date() };
      this.since.set(type, entry);
    }
    return { type, status, lastTransitionTime: entry.time, ...(reason && !ok ? { reason } : {}) } as V1PodCondition;
  }
}

export function podStatus(o: PodObservation, clock: ConditionClock): V1PodStatus {
  const phase = podPhase(o);
  const containersReady = o.initialized && o.containerStatuses.length > 0 && o.containerStatuses.every((s) => s.ready);
  const scheduled = o.pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  const conditions: V1PodCondition[] = [
    clock.condition('PodReadyToStartContainers', o.podIp !== undefined),
    clock.condition('Initialized', o.initialized, 'ContainersNotInitialized'),
    clock.condition('ContainersReady', containersReady, 'ContainersNotReady'),
    clock.condition('Ready', containersReady && phase === 'Running', 'ContainersNotReady'),
    ...(scheduled ? [scheduled] : []),
  ];
  return {
    phase,
    conditions,
    hostIP: o.hostIp,
    hostIPs: [{ ip: o.hostIp }],
    ...(o.podIp ? { podIP: o.podIp, podIPs: [{ ip: o.podIp }] } : {}),
    startTime: o.startTime,
    initContainerStatuses: o.initStatuses,
    containerStatuses: o.containerStatuses,
    qosClass: o.pod.status?.qosClass,
  } as V1PodStatus;
}
