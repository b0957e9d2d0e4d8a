import { join } from 'node:path';
import { installOperatorChart } from '../support/chart';
import { adminKubeconfig, toolsBinDir } from '../support/kube-env';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { KubeClient } from '../../lib/kube/client';
import { resolveKubeTarget } from '../../lib/kube/config';
import { resources } from '../../lib/operator/names';

// Runs the built plugins as users do: separate processes, real exit codes, stdout and stderr.
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
// VW_DIST_BIN runs the tests against another build, e.g. an older commit's, to watch a new test fail there.
export const distBin = process.env.VW_DIST_BIN || join(repoRoot, 'dist', 'bin');

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export async function vw(
  args: string[],
  opts: { kubeconfig: string; input?: string; env?: Record<string, string>; binary?: string; timeoutMs?: number },
): Promise<RunResult> {
  const binary = opts.binary ?? 'kubectl-vw';
  const r = await execa(join(distBin, binary), args, {
    reject: false,
    input: opts.input ?? '',
    env: { KUBECONFIG: opts.kubeconfig, NO_COLOR: '1', ...opts.env },
    timeout: opts.timeoutMs ?? 180_000,
  });
  return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
}

// Tests write as someone else than kubectl vw: what they set must never pass for its work.
/** Diagnostics are word-wrapped to the screen: joined back into sentences to match against. */
export const unwrapped = (text: string) => text.replace(/\n +/g, ' ');

export const adminClient = (kubeconfig: string) =>
  new KubeClient(resolveKubeTarget({ kubeconfig }, process.env), { userAgent: 'vw-test-admin' });

export interface AppSpec {
  name: string;
  capable?: boolean;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Creates ApplicationInstances as a user's cluster would have them (the operator's CRD checks them). */
export async function createApps(client: KubeClient, namespace: string, apps: AppSpec[]) {
  await Promise.all(
    apps.map((a) =>
      client.create(
        resources.applicationInstances,
        {
          apiVersion: 'apps.vworkspace.io/v1alpha1',
          kind: 'ApplicationInstance',
          metadata: { name: a.name, namespace, labels: a.labels, annotations: a.annotations },
          spec: {
            catalogRef: { name: 'odoo-app', version: '1.0.0' },
            values: { replicas: 1 },
            backup: { capable: a.capable ?? true },
          },
        },
        namespace,
      ),
    ),
  );
}

export const appNames = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`);

/** Polls until fn returns a truthy value; tests may poll, the product may not. */
export async function eventually<T>(
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

import { core } from '../../lib/kube/resources';
import { isAlreadyExists } from '../../lib/kube/api-error';

const ignoreExists = (err: unknown) => {
  if (!isAlreadyExists(err)) throw err;
  return undefined;
};

/** Velero's namespace and an Available BackupStorageLocation `aws-primary`, as the bundle installs them. */
export async function ensureStorageLocation(client: KubeClient, name = 'aws-primary', phase = 'Available') {
  await client
    .create(core.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'velero' } })
    .catch(ignoreExists);
  await client
    .create(
      resources.backupStorageLocations,
      {
        apiVersion: 'velero.io/v1',
        kind: 'BackupStorageLocation',
        metadata: { name, namespace: 'velero' },
        spec: { provider: 'aws', objectStorage: { bucket: 'vw-backups', prefix: 'sandbox' } },
      },
      'velero',
    )
    .catch(ignoreExists);
  // Velero's CRD has no status subresource: status is written with the object.
  await client.mergePatch(resources.backupStorageLocations, name, 'velero', { status: { phase } });
}

const installed = new Set<string>();

/**
 * An installation of the operator, as its users have one: the release (installed once per test
 * file with the real helm and the stand-in chart: the operator's Deployment, the bundled
 * controllers, the bootstrap Secret) and, if named, a Cluster CR.
 */
export async function createOperatorWorld(
  client: KubeClient,
  opts: { cluster?: string; odooUrl: string; kubeconfig?: string },
) {
  const kubeconfig = opts.kubeconfig ?? adminKubeconfig();
  if (!installed.has(kubeconfig)) {
    await installOperatorChart(kubeconfig, { helmBin: join(toolsBinDir(), 'helm'), odooUrl: opts.odooUrl });
    installed.add(kubeconfig);
  }
  if (opts.cluster) {
    await client
      .create(
        resources.clusters,
        {
          apiVersion: 'ops.vworkspace.io/v1alpha1',
          kind: 'Cluster',
          metadata: { name: opts.cluster, namespace: 'vworkspace-system' },
          spec: { odoo: { url: opts.odooUrl } },
        },
        'vworkspace-system',
      )
      .catch(ignoreExists);
  }
}

/** One object's row in a command's -o json items, as scripts read it. */
export interface ResultItem {
  kind: string;
  namespace?: string;
  name: string;
  action: string;
  result: string;
  message?: string;
}
export const itemsOf = (stdout: string) => JSON.parse(stdout).items as ResultItem[];
