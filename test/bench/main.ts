// npm run bench [-- --instances 2000 --runs 10]
//
// Speed lives here, never in timed tests. On a control plane of its own:
//  1. pause N ApplicationInstances: the procedure's shell loop (one kubectl annotate per
//     instance) against kubectl vw pause, and the API server's raw PATCH rate at the same
//     concurrency; peak memory of kubectl vw pause at N/4 and N objects;
//  2. cold start of `kubectl vw pause --help` and of a real `kubectl vw status`: the standalone
//     executable, `node dist/kubectl-vw.js`, and kubectl's own `kubectl version --client`.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { mapLimit } from '../../lib/concurrency';
import type { KubeClient } from '../../lib/kube/client';
import { core } from '../../lib/kube/resources';
import { resources } from '../../lib/operator/names';
import { startControlPlane } from '../support/control-plane';
import { adminClient, distBin, repoRoot } from '../helpers/plugins';

const { values } = parseArgs({
  options: {
    'skip-shell': { type: 'boolean', default: false },
    instances: { type: 'string', default: '2000' },
    runs: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '16' },
  },
});
const n = Number(values.instances);
const runs = Number(values.runs);
const concurrency = Number(values.concurrency);
const log = (s: string) => process.stderr.write(`[bench] ${s}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const seconds = async (fn: () => Promise<unknown>) => {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
};

async function seed(client: KubeClient, ns: string, count: number) {
  await client.create(core.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await mapLimit(
    Array.from({ length: count }, (_, i) => i),
    32,
    (i) =>
      client.create(
        resources.applicationInstances,
        {
          apiVersion: 'apps.vworkspace.io/v1alpha1',
          kind: 'ApplicationInstance',
          metadata: { name: `app-${i}`, namespace: ns },
          spec: { catalogRef: { name: 'odoo', version: '17.0.3' }, values: { replicas: 1 } },
        },
        ns,
      ),
  );
}

async function main() {
  const cp = await startControlPlane({ log });
  const results: Record<string, unknown> = { instances: n, concurrency, node: process.version };
  try {
    const client = adminClient(cp.adminKubeconfig);
    const env = { KUBECONFIG: cp.adminKubeconfig, NO_COLOR: '1' };
    for (const ns of ['bench-shell', 'bench-plugin', 'bench-raw', 'bench-small'])
      await seed(client, ns, ns === 'bench-small' ? n / 4 : n);
    log(`seeded ${n} instances in each of three namespaces`);

    // 1a. The procedure's step 1 loop, verbatim but for -n instead of -A.
    const loop = `kubectl get applicationinstances -n bench-shell -o json | jq -r '.items[] | "\\(.metadata.namespace) \\(.metadata.name)"' | while read ns name; do kubectl annotate applicationinstance -n "$ns" "$name" apps.vworkspace.io/reconcile=disabled --overwrite >/dev/null; done`;
    // --skip-shell: the loop takes minutes; skip it when measuring the plugin alone.
    const shell = values['skip-shell'] ? Number.NaN : await seconds(() => execa('bash', ['-c', loop], { env }));
    log(`shell loop: ${shell.toFixed(1)} s`);

    // 1b. kubectl vw pause, peak memory measured by GNU time.
    const plugin = async (ns: string) => {
      let rssKb = 0;
      const secs = await seconds(async () => {
        const r = await execa(
          '/usr/bin/time',
          [
            '-f',
            'maxrss=%M',
            join(distBin, 'kubectl-vw'),
            'pause',
            '-n',
            ns,
            '--all',
            '--no-wait',
            '--concurrency',
            String(concurrency),
            '-o',
            'name',
          ],
          {
            env,
            reject: false,
          },
        );
        if (r.exitCode !== 0) throw new Error(`kubectl vw pause failed: ${r.stderr}`);
        rssKb = Number(/maxrss=(\d+)/.exec(String(r.stderr))?.[1] ?? 0);
      });
      return { secs, rssKb };
    };
    const big = await plugin('bench-plugin');
    const small = await plugin('bench-small');
    log(
      `kubectl vw pause: ${big.secs.toFixed(1)} s for ${n}, peak RSS ${big.rssKb} KiB (${small.rssKb} KiB for ${n / 4})`,
    );

    // 1c. The API server's raw merge-PATCH rate at the same concurrency, from one process.
    const raw = await seconds(() =>
      mapLimit(
        Array.from({ length: n }, (_, i) => i),
        concurrency,
        (i) =>
          client.mergePatch(resources.applicationInstances, `app-${i}`, 'bench-raw', {
            metadata: { annotations: { 'apps.vworkspace.io/reconcile': 'disabled' } },
          }),
      ),
    );
    results.pause = {
      shellLoopSeconds: +shell.toFixed(2),
      pluginSeconds: +big.secs.toFixed(2),
      speedup: +(shell / big.secs).toFixed(1),
      pluginPerSecond: Math.round(n / big.secs),
      rawPatchPerSecond: Math.round(n / raw),
      pluginVsRaw: +(raw / big.secs).toFixed(2),
      peakRssKiB: { [n / 4]: small.rssKb, [n]: big.rssKb },
    };

    // 2. Cold starts, medians of `runs`.
    const sea = join(repoRoot, 'dist', 'package', 'linux-amd64', 'kubectl-vw');
    const commands: [string, string, string[]][] = [
      ['kubectl version --client (Go reference)', 'kubectl', ['version', '--client']],
      [
        'node dist/kubectl-vw.js pause --help',
        process.execPath,
        [join(repoRoot, 'dist', 'kubectl-vw.js'), 'pause', '--help'],
      ],
      ['node dist/kubectl-vw.js status', process.execPath, [join(repoRoot, 'dist', 'kubectl-vw.js'), 'status']],
    ];
    if (existsSync(sea)) {
      commands.push(
        ['standalone kubectl-vw pause --help', sea, ['pause', '--help']],
        ['standalone kubectl-vw status', sea, ['status']],
      );
    } else log('no standalone executable (npm run package): skipping its cold start');
    const starts: Record<string, number> = {};
    for (const [label, cmd, args] of commands) {
      const times: number[] = [];
      for (let i = 0; i < runs; i++) times.push(await seconds(() => execa(cmd, args, { env })));
      starts[label] = Math.round(median(times) * 1000);
      log(`${label}: median ${starts[label]} ms`);
    }
    results.coldStartMedianMs = starts;
  } finally {
    await cp.stop();
  }
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
