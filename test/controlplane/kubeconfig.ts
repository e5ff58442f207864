import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';

/** Writes a kubeconfig that authenticates with a client certificate (files referenced by path). */
export function writeKubeconfig(path: string, server: string, caCert: string, user: string, cert: string, key: string): string {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'kuorum-e2e', cluster: { server, 'certificate-authority': caCert } }],
    users: [{ name: user, user: { 'client-certificate': cert, 'client-key': key } }],
    contexts: [{ name: 'kuorum-e2e', context: { cluster: 'kuorum-e2e', user, namespace: 'default' } }],
    'current-context': 'kuorum-e2e',
  };
  writeFileSync(path, stringify(config), { mode: 0o600 });
  return path;
}
