import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { operatorDeploymentName } from './chart';
import { seedSandbox, startWorld } from './sandbox';
import { sandboxFaultsExample } from './sandbox-faults';

// `npm run sandbox`: a control plane with an installed vworkspace-operator to try the plugins on.
// Starts etcd, kube-apiserver and kube-controller-manager, the real Velero (velero server, its
// object store and the CSI snapshot-controller), a fake Odoo and the simulated operator, seeds an
// installation, prints how to reach it, and runs until Ctrl-C (or SIGTERM).
//
//   npm run sandbox -- --apps 36 --namespaces 6 [--simulated-velero] [--verbose]
//   (or VW_SANDBOX_APPS / VW_SANDBOX_NAMESPACES)

const usage = `usage: npm run sandbox -- [--apps N] [--namespaces M] [--not-backup-capable-every K] [--simulated-velero] [--verbose]`;

function count(flag: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`invalid --${flag} "${text}": expected an integer >= ${min}\n${usage}\n`);
    process.exit(2);
  }
  return n;
}

async function main() {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        apps: { type: 'string' },
        namespaces: { type: 'string' },
        'not-backup-capable-every': { type: 'string' },
        'simulated-velero': { type: 'boolean' },
        verbose: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage}\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const apps = count('apps', (values.apps as string) ?? process.env.VW_SANDBOX_APPS, 36, 0);
  const namespaces = count('namespaces', (values.namespaces as string) ?? process.env.VW_SANDBOX_NAMESPACES, 6, 1);
  const every = count('not-backup-capable-every', values['not-backup-capable-every'] as string | undefined, 5, 0);
  const verbose = values.verbose === true;
  const log = (line: string) => process.stderr.write(`${line}\n`);

  log('starting the control plane (first run builds the Kubernetes binaries: many minutes)...');
  const started = Date.now();
  const simulated = values['simulated-velero'] === true;
  const world = await startWorld({
    log: (line) => log(`[world] ${line}`),
    sim: { log: verbose ? (line) => log(`[sim-operator] ${line}`) : () => {} },
    velero: simulated ? 'simulated' : 'real',
    buildTargets: ['demo'],
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`\n${signal}: stopping the simulated operator, the fake Odoo and the control plane...`);
    await world.stop();
    log('stopped.');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  try {
    if (!world.controlPlane) throw new Error('no control plane');
    const summary = await seedSandbox(world.kubeconfig, {
      apps,
      namespaces,
      notBackupCapableEvery: every,
      helmBin: join(world.controlPlane.binDir, 'helm'),
      odooUrl: world.odoo.url,
      helmHome: join(world.controlPlane.dir, 'helm'),
    });
    const notCapable = summary.apps.filter((a) => !a.backupCapable).length;
    const volumes = summary.apps.reduce((n, a) => n + a.volumes.length, 0);
    const retained = summary.apps.reduce((n, a) => n + a.volumes.filter((v) => v.reclaimPolicy === 'Retain').length, 0);
    const out = [
      `export KUBECONFIG=${world.kubeconfig}`,
      `export PATH=${join(process.cwd(), 'dist', 'bin')}:${join(world.controlPlane.binDir)}:$PATH`,
      '',
      `# vworkspace sandbox ready in ${((Date.now() - started) / 1000).toFixed(1)}s`,
      `#   helm release   ${summary.release} (keepCrds=true)`,
      `#   Cluster        ${summary.cluster} -> fake Odoo ${world.odoo.url}`,
      world.velero
        ? `#   Velero         velero server (real, pid ${world.velero.pid}, log ${world.velero.logFile}) -> object store ${world.velero.store.url}, bucket ${world.velero.store.bucket}; BackupStorageLocation ${summary.storageLocation}; CSI snapshot-controller; VolumeSnapshotClass ${summary.snapshotClass}`
        : `#   Velero         simulated; BackupStorageLocation ${summary.storageLocation} (Available); VolumeSnapshotClass ${summary.snapshotClass}`,
      `#   apps           ${summary.apps.length} ApplicationInstances in ${summary.namespaces.join(', ')}; ${notCapable} without backup capability`,
      `#   volumes        ${volumes} PVCs bound to CSI PVs (${retained} Retain, ${volumes - retained} Delete); the storage driver is simulated`,
      `#   operator       simulated: pauses, backups (it makes the Velero Backups), decommission; Deployment ${operatorDeploymentName} shows it running`,
      `#   faults         ConfigMap ${summary.faults ?? '(none)'}: odoo up|down|failing|slow, backups succeed|fail|hang|partial, storageLocation Available|Unavailable`,
      `#                  e.g. ${sandboxFaultsExample()}`,
      '# try: kubectl vw status; kubectl vw uninstall --dry-run',
      '# Ctrl-C stops everything.',
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } catch (err) {
    log(`sandbox: ${(err as Error).message}`);
    await world.stop();
    process.exit(1);
  }
  // Runs until a signal: the watches and the servers keep the event loop alive.
}

main().catch((err) => {
  process.stderr.write(`sandbox: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
