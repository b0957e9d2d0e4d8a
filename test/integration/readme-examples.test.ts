import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { KubeClient } from '../../lib/kube/client';
import { core } from '../../lib/kube/resources';
import { resources } from '../../lib/operator/names';
import { type ControlPlane, startControlPlane } from '../support/control-plane';
import { SimOperator } from '../support/sim-operator';
import { adminClient, createApps, distBin, ensureStorageLocation, repoRoot } from '../helpers/plugins';

// The README's chains, read from the README itself and run as written, through kubectl, on a
// cluster of their own (`--all` means every namespace) where an application name repeats across
// namespaces: `pause -o json | backup -f -` must back up exactly what was paused, nothing else.

/** The shell lines of the README's backup section that pipe one command into another. */
function readmeChains(): string[] {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### kubectl vw backup (step 2)'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block
    .split('\n')
    .filter((l) => l.includes('|'))
    .map((l) => l.replace(/\s+#.*$/, '').trim());
}

describe("the README's chains, as written", () => {
  let cp: ControlPlane;
  let client: KubeClient;
  let sim: SimOperator;

  beforeAll(async () => {
    cp = await startControlPlane({});
    client = adminClient(cp.adminKubeconfig);
    await ensureStorageLocation(client);
    for (const name of ['shop', 'crm'])
      await client.create(core.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    await createApps(client, 'shop', [{ name: 'web' }, { name: 'db' }]);
    await createApps(client, 'crm', [{ name: 'web' }]);
    sim = new SimOperator({ kubeconfig: cp.adminKubeconfig, namespaces: ['shop', 'crm'] });
    await sim.start();
  }, 300_000);

  afterAll(async () => {
    await sim?.stop();
    await cp?.stop();
  });

  it('there are two: every namespace from -o json, one namespace from -o name', () => {
    expect(readmeChains()).toEqual([
      'kubectl vw pause --all -o json | kubectl vw backup -f - --ttl 720h',
      'kubectl vw pause -n shop --all -o name | kubectl vw backup -n shop -f - --ttl 720h',
    ]);
  });

  it.each(readmeChains())('%s', async (line) => {
    const r = await execa('bash', ['-o', 'pipefail', '-c', line], {
      env: { KUBECONFIG: cp.adminKubeconfig, NO_COLOR: '1', PATH: `${distBin}:${process.env.PATH}` },
      reject: false,
      timeout: 180_000,
    });
    expect({ exitCode: r.exitCode, stderr: r.exitCode ? r.stderr : '' }).toEqual({ exitCode: 0, stderr: '' });
    const operations = async (namespace: string) =>
      (await client.list(resources.operations, { namespace })).items.map((o) => o.metadata.name).sort();
    expect(await operations('shop')).toEqual(['db-final-backup', 'web-final-backup']);
    // The one-namespace form stays in its namespace; the other reaches web in crm, despite the name.
    if (!line.includes('-n shop')) expect(await operations('crm')).toEqual(['web-final-backup']);
    const ttl = (await client.get(resources.operations, 'web-final-backup', 'shop')).spec as {
      parameters: { ttl: string };
    };
    expect(ttl.parameters.ttl).toBe('720h');
  });
});
