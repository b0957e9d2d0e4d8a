import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { seedSandbox, startWorld } from './sandbox';
import { sandboxFaultsName, sandboxFaultsNamespace } from './sandbox-faults';

// `npm run demo`: the procedure on a fresh sandbox, step by step, through the real kubectl's
// plugin dispatch with the built plugins on PATH: status, pause, backup; then Odoo goes down
// (through the sandbox-faults ConfigMap, as a user would do it) so the decommission gets stuck on
// the Cluster finalizer and says the two ways out; Odoo comes back and the decommission drains;
// purge and the what-persists report; then everything stops. The demo fails only if a step other
// than the deliberately stuck one fails.

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const distBin = process.env.VW_DIST_BIN || join(repoRoot, 'dist', 'bin');

const styled = process.stderr.isTTY === true && !process.env.NO_COLOR;
const say = (s: string) => process.stderr.write(styled ? `\n\x1b[1m### ${s}\x1b[0m\n` : `\n### ${s}\n`);

async function main() {
  // The real Velero unless asked for the simulated one (npm run demo -- --simulated-velero).
  const simulated = process.argv.includes('--simulated-velero');
  say(
    `starting a control plane, ${simulated ? 'the simulated' : 'the real'} Velero, a fake Odoo and the simulated operator`,
  );
  const world = await startWorld({
    velero: simulated ? 'simulated' : 'real',
    // Only what the demo needs is built on a bare clone: no krew, no rcodesign.
    buildTargets: ['demo'],
    log: (l) => process.stderr.write(`  ${l}\n`),
    // The operator checks Odoo's health every 10 minutes here, so the decommission preflight
    // still sees the Odoo it saw at registration when the demo takes it down just before.
    // The simulated operator's own log would drown the plugins' output; VW_SIM_LOG=1 shows it.
    sim: {
      healthIntervalMs: 600_000,
      log: process.env.VW_SIM_LOG === '1' ? (l) => process.stderr.write(`  [sim] ${l}\n`) : () => {},
    },
  });
  let code = 0;
  try {
    const helmBin = join(world.controlPlane?.binDir ?? '', 'helm');
    const seeded = await seedSandbox(world.kubeconfig, { apps: 12, namespaces: 3, helmBin, odooUrl: world.odoo.url });
    say(
      `seeded ${seeded.apps.length} ApplicationInstances in ${seeded.namespaces.join(', ')}, helm release ${seeded.release}, Cluster ${seeded.cluster}`,
    );
    const env = {
      ...process.env,
      KUBECONFIG: world.kubeconfig,
      // The built plugins and helm first; kubectl finds kubectl-vw (and kubectl-vw-<step>) there.
      PATH: [distBin, world.controlPlane?.binDir ?? '', process.env.PATH ?? ''].join(delimiter),
    };
    const kubectl = async (...args: string[]) => {
      say(`kubectl ${args.join(' ')}`);
      const r = await execa('kubectl', args, { env, stdio: 'inherit', reject: false });
      return r.exitCode ?? 1;
    };
    const step = async (...args: string[]) => {
      const exit = await kubectl(...args);
      if (exit !== 0) throw new StepFailed(`kubectl ${args.join(' ')}`, exit);
    };
    const setOdoo = async (mode: 'up' | 'down') => {
      await kubectl(
        '-n',
        sandboxFaultsNamespace,
        'patch',
        'configmap',
        sandboxFaultsName,
        '--type',
        'merge',
        '-p',
        JSON.stringify({ data: { odoo: mode } }),
      );
      // The fake Odoo obeys the ConfigMap within a moment.
      const deadline = Date.now() + 10_000;
      while (world.odoo.mode !== mode) {
        if (Date.now() > deadline) throw new Error(`the fake Odoo did not go ${mode} within 10 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };

    await step('vw', 'status');
    await step('vw', 'pause', '--all');
    await step('vw', 'backup', '--all', '--ttl', '8760h');
    // What Velero itself recorded of them (with the real one: its phases, expiry, storage location).
    await kubectl('-n', 'velero', 'get', 'backups.velero.io');
    say('Odoo goes down: the Cluster finalizer cannot drain');
    await setOdoo('down');
    const stuck = await kubectl('vw', 'decommission', '--yes', '--timeout', '20s');
    say(
      stuck === 4
        ? 'kubectl vw decommission exited 4 (timed out on the finalizer), as expected while Odoo is down'
        : `kubectl vw decommission exited ${stuck} (expected 4 while Odoo is down); going on`,
    );
    say('Odoo is back: the finalizer drains');
    await setOdoo('up');
    await step('vw', 'decommission', '--yes');
    await step('vw', 'purge', '--yes');
    await step('vw', 'purge', '--report');
    say('the procedure completed');
  } catch (err) {
    code = err instanceof StepFailed ? err.exitCode || 1 : 1;
    say(`demo stopped: ${(err as Error).message}`);
  } finally {
    say('stopping everything');
    await world.stop();
  }
  process.exit(code);
}

class StepFailed extends Error {
  constructor(
    command: string,
    readonly exitCode: number,
  ) {
    super(`${command} exited ${exitCode}`);
  }
}

main().catch((err) => {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  process.exit(1);
});
