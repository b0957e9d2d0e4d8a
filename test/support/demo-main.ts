import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { distBin } from '../helpers/plugins';
import { seedSandbox, startWorld } from './sandbox';

// `npm run demo`: the whole uninstall on a fresh sandbox, through the real kubectl's plugin
// dispatch with the built plugins on PATH, then the what-persists report; then everything stops.

const say = (s: string) => process.stderr.write(`\n\x1b[1m### ${s}\x1b[0m\n`);

async function main() {
  say('starting a control plane, a fake Odoo and the simulated operator');
  const world = await startWorld({ log: (l) => process.stderr.write(`  ${l}\n`) });
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
    await kubectl('vw', 'status');
    code = await kubectl('vw', 'uninstall', '--ttl', '8760h', '--suspend-helmreleases', '--yes');
    await kubectl('vw', 'purge', '--report');
    say(code === 0 ? 'the procedure completed' : `kubectl vw uninstall exited ${code}`);
  } finally {
    say('stopping everything');
    await world.stop();
  }
  process.exit(code);
}

main().catch((err) => {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  process.exit(1);
});
