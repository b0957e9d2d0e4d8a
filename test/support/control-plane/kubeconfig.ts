import { writeFile } from 'node:fs/promises';
import { dump } from 'js-yaml';
import { base64Of, type KeyPair } from './certs';

export const clusterName = 'vw-test';

/** A kubeconfig with one cluster, user and context, certificates embedded (no paths to go stale). */
export async function writeKubeconfig(
  path: string,
  o: { server: string; ca: string; user: string; client: KeyPair; context: string },
) {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: clusterName, cluster: { server: o.server, 'certificate-authority-data': await base64Of(o.ca) } },
    ],
    users: [
      {
        name: o.user,
        user: {
          'client-certificate-data': await base64Of(o.client.cert),
          'client-key-data': await base64Of(o.client.key),
        },
      },
    ],
    contexts: [{ name: o.context, context: { cluster: clusterName, user: o.user } }],
    'current-context': o.context,
    preferences: {},
  };
  await writeFile(path, dump(config), { mode: 0o600 });
}
