// npm run bench [-- --instances 2000 --large 10000 --backups 1000 --runs 10 --skip-shell --only cold,backup,scale]
//
// Speed lives here, never in timed tests. It builds the standalone executable for this machine,
// starts control planes of its own and prints one JSON document (keys in the README, "Benchmarks"):
//  1. coldStartMedianMs: kubectl vw pause --help beside kubectl version --client, and a real
//     kubectl vw status on a sandbox beside kubectl get applicationinstances -A (cold-start.ts);
//  2. backup: step 2 on 1,000 applications with the simulated operator, against the procedure's
//     loop, and the exit once the last Operation is final (backup.ts); requestsPerObject for
//     every command, counted by a logging proxy (requests.ts); table rendering (render.ts);
//  3. pause, status and preflights at 10,000 applications, against the raw PATCH rate (scale.ts).
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { KubeClient } from '../../lib/kube/client';
import { startControlPlane } from '../support/control-plane';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy';
import { clientFor, ensureCluster, ensureVeleroLocation, seedSandbox, startWorld } from '../support/sandbox';
import { SimOperator } from '../support/sim-operator';
import { adminClient, repoRoot } from '../helpers/plugins';
import { backupBench } from './backup';
import { coldStartBench } from './cold-start';
import { log } from './measure';
import { renderBench } from './render';
import { requestsBench } from './requests';
import { scaleBench } from './scale';

const { values } = parseArgs({
  options: {
    'skip-shell': { type: 'boolean', default: false },
    instances: { type: 'string', default: '2000' },
    large: { type: 'string', default: '10000' },
    backups: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '16' },
    only: { type: 'string', default: 'cold,backup,scale' },
  },
});
const parts = new Set(values.only.split(','));
const numbers = {
  instances: Number(values.instances),
  large: Number(values.large),
  backups: Number(values.backups),
  runs: Number(values.runs),
  concurrency: Number(values.concurrency),
};

function machine() {
  const cpu = cpus();
  return {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kubectl: execFileSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' }).match(
      /"gitVersion": "([^"]+)"/,
    )?.[1],
  };
}

/** Part 1, on a sandbox of its own. */
async function coldPart(results: Record<string, unknown>) {
  // The simulated Velero, eight backups at a time (velero server --concurrent-backups=8): what is
  // measured is the plugins' own cost beside a shell loop, both waiting on the same Velero.
  const world = await startWorld({
    log,
    faultsConfigMap: false,
    velero: 'simulated',
    sim: { log: () => {}, timing: { veleroConcurrentBackups: 8 } },
  });
  try {
    const cp = world.controlPlane;
    if (!cp) throw new Error('no control plane');
    await seedSandbox(world.kubeconfig, {
      apps: 36,
      namespaces: 6,
      helmBin: join(cp.binDir, 'helm'),
      odooUrl: world.odoo.url,
      helmHome: join(cp.dir, 'helm'),
      faultsConfigMap: false,
    });
    await world.sim.idle();
    const cold = await coldStartBench(world.kubeconfig, numbers.runs);
    results.coldStartMedianMs = cold.medians;
    results.coldStartRatios = cold.ratios;
  } finally {
    await world.stop();
  }
}

/** Part 2: Operations and Velero simulated (realistic timing), on a control plane of their own. */
async function backupPart(results: Record<string, unknown>) {
  const cp = await startControlPlane({ log });
  const sim = new SimOperator({ kubeconfig: cp.adminKubeconfig, controllers: ['operations', 'velero'], log: () => {} });
  const client: KubeClient = adminClient(cp.adminKubeconfig);
  let proxy: FaultProxy | undefined;
  try {
    const world = clientFor(cp.adminKubeconfig);
    await ensureVeleroLocation(world);
    await ensureCluster(world, { odooUrl: 'http://127.0.0.1:9' });
    world.close();
    await sim.start();
    proxy = await startFaultProxy(cp.adminKubeconfig);
    const env = { KUBECONFIG: cp.adminKubeconfig, NO_COLOR: '1' };
    const { requests: backupRequests, ...backup } = await backupBench(
      client,
      env,
      proxy,
      numbers.backups,
      values['skip-shell'],
    );
    const requests = { ...(await requestsBench(proxy, client, numbers.backups)), backup: backupRequests };
    results.backup = backup;
    results.requestsPerObject = Object.fromEntries(Object.entries(requests).map(([k, v]) => [k, v.perObject]));
    results.requests = requests;
  } finally {
    client.close();
    await proxy?.stop();
    await sim.stop();
    await cp.stop();
  }
  results.render = renderBench(numbers.backups);
}

/** Part 3: no operator, a control plane of its own. */
async function scalePart(results: Record<string, unknown>) {
  const cp = await startControlPlane({ log });
  const client = adminClient(cp.adminKubeconfig);
  try {
    Object.assign(results, await scaleBench(cp, client, { ...numbers, skipShell: values['skip-shell'] }));
  } finally {
    client.close();
    await cp.stop();
  }
}

async function main() {
  const results: Record<string, unknown> = { machine: machine(), concurrency: numbers.concurrency };
  if (parts.has('cold')) {
    log('building the standalone executable for this machine (npm run package)');
    execFileSync(process.execPath, ['scripts/release.mjs', '--package-only', '--platforms', 'linux/amd64'], {
      cwd: repoRoot,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await coldPart(results);
  }
  if (parts.has('backup')) await backupPart(results);
  if (parts.has('scale')) await scalePart(results);
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
