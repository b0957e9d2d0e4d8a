// What every part of the bench measures with: wall time, peak memory (GNU time), medians of
// interleaved runs, and seeding thousands of objects spread over namespaces.
import { join } from 'node:path';
import { execa } from 'execa';
import { mapLimit } from '../../lib/concurrency';
import type { KubeClient } from '../../lib/kube/client';
import { core, type KubeObject } from '../../lib/kube/resources';
import { resources } from '../../lib/operator/names';
import { distBin } from '../helpers/plugins';

export const log = (s: string) => process.stderr.write(`[bench] ${s}\n`);
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
export const round = (x: number, digits = 2) => +x.toFixed(digits);

export async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

export interface PluginRun {
  seconds: number;
  /** Peak resident memory, from GNU time. */
  rssKiB: number;
  exitCode: number;
  stdout: string;
  stderr: string;
  /** When the process ended (performance.now()). */
  endedAt: number;
}

/** kubectl vw, from dist/bin as users run it, under GNU time for its peak memory. */
export function vwTimed(args: string[], env: Record<string, string>, opts: { ok?: number[] } = {}) {
  return timed(join(distBin, 'kubectl-vw'), args, env, opts);
}

/** A command under GNU time: wall time and peak memory. */
export async function timed(cmd: string, args: string[], env: Record<string, string>, opts: { ok?: number[] } = {}) {
  const started = performance.now();
  const r = await execa('/usr/bin/time', ['-f', 'maxrss=%M', cmd, ...args], {
    env,
    reject: false,
    maxBuffer: 256 * 1024 * 1024,
  });
  const endedAt = performance.now();
  const stderr = String(r.stderr);
  const run: PluginRun = {
    seconds: (endedAt - started) / 1000,
    rssKiB: Number(/maxrss=(\d+)/.exec(stderr)?.[1] ?? 0),
    exitCode: r.exitCode ?? -1,
    stdout: String(r.stdout),
    stderr,
    endedAt,
  };
  if (!(opts.ok ?? [0]).includes(run.exitCode))
    throw new Error(`${cmd} ${args.join(' ')} exited ${run.exitCode}: ${stderr.slice(-2000)}`);
  return run;
}

/** Medians (ms) of `runs` runs of each command, interleaved so that a busy moment hits all alike. */
export async function coldStarts(
  commands: [label: string, cmd: string, args: string[]][],
  runs: number,
  env: Record<string, string>,
): Promise<Record<string, number>> {
  const times = commands.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) {
    for (const [j, [label, cmd, args]] of commands.entries()) {
      const t = performance.now();
      const r = await execa(cmd, args, { env, reject: false });
      times[j]?.push(performance.now() - t);
      if (r.exitCode !== 0) throw new Error(`${label} exited ${r.exitCode}: ${String(r.stderr).slice(-500)}`);
    }
  }
  return Object.fromEntries(commands.map(([label], j) => [label, Math.round(median(times[j] ?? []))]));
}

export const namespaceNames = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);

export interface SeedOptions {
  /** Label bench-set=<set> on every object, to select them (-l). */
  set: string;
  count: number;
  namespaces: string[];
  paused?: boolean;
  annotations?: Record<string, string>;
  /** Bytes of spec.values per object: what a real chart's values weigh. */
  valuesBytes?: number;
}

export const appName = (set: string, i: number) => `${set}-${i}`;
/** Where the i-th object of a set lives: round robin over the namespaces. */
export const namespaceOf = (o: SeedOptions, i: number) => o.namespaces[i % o.namespaces.length] as string;

const values = (bytes: number) => ({
  replicas: 1,
  persistence: { enabled: true, size: '5Gi' },
  env: Array.from({ length: Math.max(0, Math.floor(bytes / 64)) }, (_, k) => ({
    name: `SETTING_${k}`,
    value: 'x'.repeat(40),
  })),
});

export async function ensureNamespaces(client: KubeClient, names: string[]) {
  await mapLimit(names, 16, (name) =>
    client
      .create(core.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } })
      .catch((err: { status?: number }) => {
        if (err.status !== 409) throw err;
      }),
  );
}

/** Seeds ApplicationInstances, as a user's cluster has them (the operator's CRD checks them). */
export async function seedInstances(client: KubeClient, o: SeedOptions) {
  await ensureNamespaces(client, o.namespaces);
  await mapLimit(
    Array.from({ length: o.count }, (_, i) => i),
    32,
    (i) =>
      client.create(
        resources.applicationInstances,
        {
          apiVersion: 'apps.vworkspace.io/v1alpha1',
          kind: 'ApplicationInstance',
          metadata: {
            name: appName(o.set, i),
            namespace: namespaceOf(o, i),
            labels: { 'bench-set': o.set },
            annotations: { ...(o.paused ? { 'apps.vworkspace.io/reconcile': 'disabled' } : {}), ...o.annotations },
          },
          spec: { catalogRef: { name: 'odoo', version: '17.0.3' }, values: values(o.valuesBytes ?? 256) },
        },
        namespaceOf(o, i),
      ),
  );
}

/** The HelmRelease the operator renders for each instance, values and all. */
export async function seedHelmReleases(client: KubeClient, o: SeedOptions) {
  await mapLimit(
    Array.from({ length: o.count }, (_, i) => i),
    32,
    (i) =>
      client.create(
        resources.helmReleases,
        {
          apiVersion: 'helm.toolkit.fluxcd.io/v2',
          kind: 'HelmRelease',
          metadata: { name: appName(o.set, i), namespace: namespaceOf(o, i), labels: { 'bench-set': o.set } },
          spec: {
            interval: '10m',
            chart: {
              spec: { chart: 'odoo', version: '17.0.3', sourceRef: { kind: 'HelmRepository', name: 'catalog' } },
            },
            values: values(o.valuesBytes ?? 2048),
          },
        },
        namespaceOf(o, i),
      ),
  );
}

export const itemsOf = (list: { items: KubeObject[] }) => list.items;
