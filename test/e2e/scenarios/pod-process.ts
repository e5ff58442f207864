// Freezes and thaws a pod's kuorum process (SIGSTOP/SIGCONT) on the process-kubelet host, so a
// member stays down without the kubelet restarting it: the process is alive but answers nothing,
// and the pod fails readiness.
import { readdirSync, readFileSync } from 'node:fs';

function environ(pid: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return env;
}

/** PIDs of the kuorum node process of `pod`, in the test cluster whose state lives in `clusterDir`. */
export function nodePids(clusterDir: string, pod: string): number[] {
  const pids: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmdline.includes('dist/node/src/main.js')) continue;
      const env = environ(pid);
      if (env.get('HOSTNAME') === pod && (env.get('KUORUM_HOSTS_FILE') ?? '').startsWith(clusterDir)) pids.push(Number(pid));
    } catch {
      // the process exited while we looked
    }
  }
  return pids;
}

export function signalPod(clusterDir: string, pod: string, signal: 'SIGSTOP' | 'SIGCONT'): number[] {
  const pids = nodePids(clusterDir, pod);
  if (pids.length === 0) throw new Error(`no kuorum process found for pod ${pod}`);
  for (const pid of pids) process.kill(pid, signal);
  return pids;
}
