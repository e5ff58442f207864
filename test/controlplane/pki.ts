import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** Certificates and keys of one throwaway cluster, made with the system's openssl CLI. */
export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  /** Key pair the API server verifies and the controller-manager signs service-account tokens with. */
  serviceAccountKey: string;
  serviceAccountPub: string;
  apiServerCert: string;
  apiServerKey: string;
  /** The aggregation layer's own CA and the client cert the API server proxies to extension servers with. */
  frontProxyCaCert: string;
  frontProxyClientCert: string;
  frontProxyClientKey: string;
}

export interface ClientCert {
  cert: string;
  key: string;
}

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr || String(err)}`, { cause: err });
  }
}

const curve = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A leaf certificate signed by the CA, valid a day (clusters live for minutes). */
function issue(pki: { dir: string; caCert: string; caKey: string }, name: string, subject: string, extensions: string[]): ClientCert {
  const cert = join(pki.dir, `${name}.crt`);
  const key = join(pki.dir, `${name}.key`);
  openssl([
    'req', '-x509', ...curve, '-keyout', key, '-out', cert, '-days', '1', '-subj', subject,
    '-CA', pki.caCert, '-CAkey', pki.caKey,
    '-addext', 'basicConstraints=critical,CA:FALSE',
    '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment',
    ...extensions.flatMap((e) => ['-addext', e]),
  ]);
  return { cert, key };
}

function createCa(dir: string, name: string): { caCert: string; caKey: string } {
  const caCert = join(dir, `${name}.crt`);
  const caKey = join(dir, `${name}.key`);
  openssl(['req', '-x509', ...curve, '-keyout', caKey, '-out', caCert, '-days', '2', '-subj', `/CN=kuorum-e2e-${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature']);
  return { caCert, caKey };
}

export function createPki(dir: string, apiServerIps: string[], apiServerNames: string[]): Pki {
  mkdirSync(dir, { recursive: true });
  const { caCert, caKey } = createCa(dir, 'ca');
  const frontProxy = createCa(dir, 'front-proxy-ca');
  const frontProxyClient = issue({ dir, ...frontProxy }, 'front-proxy-client', '/CN=front-proxy-client', ['extendedKeyUsage=clientAuth']);
  const serviceAccountKey = join(dir, 'sa.key');
  const serviceAccountPub = join(dir, 'sa.pub');
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', serviceAccountKey]);
  openssl(['pkey', '-in', serviceAccountKey, '-pubout', '-out', serviceAccountPub]);
  const base = { dir, caCert, caKey };
  const sans = [...apiServerIps.map((ip) => `IP:${ip}`), ...apiServerNames.map((n) => `DNS:${n}`)].join(',');
  const server = issue(base, 'apiserver', '/CN=kube-apiserver', [`subjectAltName=${sans}`, 'extendedKeyUsage=serverAuth']);
  return {
    ...base, serviceAccountKey, serviceAccountPub, apiServerCert: server.cert, apiServerKey: server.key,
    frontProxyCaCert: frontProxy.caCert, frontProxyClientCert: frontProxyClient.cert, frontProxyClientKey: frontProxyClient.key,
  };
}

/** A client certificate: the API server takes CN as the user name and each O as a group. */
export function issueClientCert(pki: Pki, name: string, user: string, groups: string[] = []): ClientCert {
  const subject = [...groups.map((g) => `/O=${g}`), `/CN=${user}`].join('');
  return issue(pki, name, subject, ['extendedKeyUsage=clientAuth']);
}

/** A serving certificate for the given IP addresses (e.g. a kubelet's HTTPS endpoint). */
export function issueServingCert(pki: Pki, name: string, ips: string[]): ClientCert {
  return issue(pki, name, `/CN=${name}`, [`subjectAltName=${ips.map((ip) => `IP:${ip}`).join(',')}`, 'extendedKeyUsage=serverAuth']);
}
