import type { KubeClient } from '../../lib/kube/client';
import { core } from '../../lib/kube/resources';
import { mapLimit } from '../../lib/concurrency';
import { resources } from '../../lib/operator/names';
import { type ControlPlane, startControlPlane } from '../support/control-plane';
import { join } from 'node:path';
import { execa } from 'execa';
import { adminClient, distBin, ensureStorageLocation, vw } from '../helpers/plugins';

// Every table and report finishes at 1,000 applications (the what-persists table once hung there,
// at 100% CPU, on its multi-line volumes cell), and is printed as kubectl prints: a name is never
// broken, into a pipe or on a terminal; on a terminal, only what no name pushes past fits the screen.

const apps = 1000;
/** A valid 60-character ApplicationInstance name, as the user had. */
const longName = (i: number) => `customer-relationship-management-suite-production-eu-w-${String(i).padStart(4, '0')}`;
const longNames = Array.from({ length: apps / 250 }, (_, k) => longName(k * 250));
const namespaces = ['scale-a', 'scale-b', 'scale-c', 'scale-d'];

describe('reports that fit the screen, at 1,000 applications', () => {
  let cp: ControlPlane;
  let kubeconfig: string;
  let client: KubeClient;

  beforeAll(async () => {
    cp = await startControlPlane({});
    kubeconfig = cp.adminKubeconfig;
    client = adminClient(kubeconfig);
    await ensureStorageLocation(client);
    for (const name of [...namespaces, 'vworkspace-system'])
      await client.create(core.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    await mapLimit(
      Array.from({ length: apps }, (_, i) => i),
      32,
      async (i) => {
        const namespace = namespaces[i % namespaces.length] as string;
        const name = i % 250 ? `application-with-a-long-name-${i}` : longName(i);
        const paused = { 'apps.vworkspace.io/reconcile': 'disabled' };
        await client.create(
          resources.applicationInstances,
          {
            apiVersion: 'apps.vworkspace.io/v1alpha1',
            kind: 'ApplicationInstance',
            metadata: { name, namespace, annotations: paused },
            spec: { catalogRef: { name: 'odoo', version: '17.0.3' } },
          },
          namespace,
        );
        await client.create(
          resources.helmReleases,
          {
            apiVersion: 'helm.toolkit.fluxcd.io/v2',
            kind: 'HelmRelease',
            metadata: { name, namespace },
            spec: {
              interval: '10m',
              chart: { spec: { chart: 'odoo', sourceRef: { kind: 'HelmRepository', name: 'c' } } },
            },
          },
          namespace,
        );
        await client.create(core.persistentVolumes, {
          apiVersion: 'v1',
          kind: 'PersistentVolume',
          metadata: { name: `pv-${namespace}-${name}-data` },
          spec: {
            capacity: { storage: '5Gi' },
            accessModes: ['ReadWriteOnce'],
            persistentVolumeReclaimPolicy: 'Retain',
            hostPath: { path: `/srv/${name}` },
            claimRef: { namespace, name: `${name}-data` },
          },
        });
        await client.create(
          core.persistentVolumeClaims,
          {
            apiVersion: 'v1',
            kind: 'PersistentVolumeClaim',
            metadata: { name: `${name}-data`, namespace },
            spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '5Gi' } } },
          },
          namespace,
        );
      },
    );
  }, 600_000);

  afterAll(async () => {
    await cp?.stop();
  });

  const commands = [
    ['status'],
    ['status', '-o', 'wide'],
    ['purge', '--report'],
    ['purge', '--report', '-o', 'wide'],
    ['pause', '--all', '--dry-run=client'],
    ['pause', '--all', '--all-helmreleases', '--dry-run=client', '-o', 'wide'],
    ['resume', '--all', '--force-all', '--dry-run=client'],
    ['backup', '--ttl', '8760h', '--dry-run=client'],
    ['backup', '--ttl', '8760h', '--dry-run=client', '-o', 'wide'],
    ['purge', '--delete-apps', '--skip-backup-check', '--dry-run=client'],
    ['decommission', '--dry-run=client'],
  ];
  /** Lines that hold a piece of a long name but not all of it: a name broken across lines. */
  const broken = (out: string) =>
    out.split('\n').filter((l) => /customer-relationship|-eu-w-\d{4}/.test(l) && !longNames.some((n) => l.includes(n)));

  it.each(commands)(
    'kubectl vw %s into a pipe: every name whole, every table row one line, and done',
    async (...args) => {
      const r = await vw(args, { kubeconfig, env: { COLUMNS: '100' }, timeoutMs: 120_000 });
      expect(r.exitCode).not.toBe(-1); // finished, whatever it said
      expect(r.stdout.length + r.stderr.length).toBeGreaterThan(0);
      expect(broken(`${r.stdout}\n${r.stderr}`)).toEqual([]);
      // A table row is one line: each long-named application's row can be grepped.
      if (['pause', 'resume', 'backup'].includes(args[0] ?? ''))
        for (const n of longNames) expect(r.stdout.split('\n').filter((l) => l.includes(n)).length).toBeGreaterThan(0);
    },
  );

  it.each(commands)(
    'kubectl vw %s on a terminal of 100 columns: every name whole; only names run past',
    async (...args) => {
      // util-linux `script` gives the command a pseudo-terminal (stdout and stderr), as a shell would.
      const r = await execa('script', ['-qec', `${join(distBin, 'kubectl-vw')} ${args.join(' ')}`, '/dev/null'], {
        env: { KUBECONFIG: kubeconfig, NO_COLOR: '1', COLUMNS: '100', TERM: 'xterm' },
        reject: false,
        timeout: 120_000,
      });
      // What a terminal shows: a progress line redrawn in place (\r, erase line) leaves only its last state.
      const esc = String.fromCharCode(27);
      const lines = String(r.stdout)
        .replace(/\r\n/g, '\n')
        .split('\n')
        .map((l) => (l.split('\r').pop() ?? '').replaceAll(`${esc}[2K`, ''));
      expect(broken(lines.join('\n'))).toEqual([]);
      // Past the edge only: a table row that the names column (widened by a long name) pushes
      // there, or a line holding a word that cannot be broken.
      const tableRow = /^\S+ {2,}\S/;
      const wide = lines.filter((l) => l.length > 100);
      expect(
        wide.filter((l) => !tableRow.test(l) && !longNames.some((n) => l.includes(n)) && !/\S{40,}/.test(l)),
      ).toEqual([]);
    },
  );
});
