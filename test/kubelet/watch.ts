import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';

export interface WatchHandlers<T extends KubernetesObject> {
  upsert(obj: T): void;
  remove(obj: T): void;
}

export interface ResourceWatch<T extends KubernetesObject> {
  list(): readonly T[];
  stop(): Promise<void>;
}

/**
 * A list+watch of one resource that keeps retrying after errors (API restarts, expired
 * resource versions) until stopped.
 */
export async function watchResource<T extends KubernetesObject>(
  kc: KubeConfig,
  path: string,
  list: () => Promise<KubernetesListObject<T>>,
  handlers: WatchHandlers<T>,
  fieldSelector?: string,
): Promise<ResourceWatch<T>> {
  const informer = new ListWatch<T>(path, new Watch(kc), list, false, undefined, fieldSelector);
  let stopped = false;
  informer.on('add', handlers.upsert);
  informer.on('update', handlers.upsert);
  informer.on('delete', handlers.remove);
  informer.on('error', () => {
    if (stopped) return;
    setTimeout(() => {
      if (!stopped) informer.start().catch(() => undefined);
    }, 1000);
  });
  await informer.start();
  return {
    list: () => informer.list(),
    async stop() {
      stopped = true;
      await informer.stop();
    },
  };
}
