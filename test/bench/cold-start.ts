// Cold starts, each beside its Go peer in the same interleaved runs: `kubectl vw pause --help`
// beside `kubectl version --client`, and a real `kubectl vw status` on a sandbox (the release, a
// Cluster, 36 applications, the simulated operator) beside `kubectl get applicationinstances -A`
// on the same cluster. The standalone executable is what users install; `node dist/kubectl-vw.js`
// is shown for reference.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/plugins';
import { coldStarts, log, round } from './measure';

export const standalone = join(repoRoot, 'dist', 'package', 'linux-amd64', 'kubectl-vw');

export async function coldStartBench(kubeconfig: string, runs: number) {
  const node = process.execPath;
  const bundle = join(repoRoot, 'dist', 'kubectl-vw.js');
  const commands: [string, string, string[]][] = [
    ['kubectl version --client (Go reference)', 'kubectl', ['version', '--client']],
    ['kubectl get applicationinstances -A', 'kubectl', ['get', 'applicationinstances', '-A']],
    ['node dist/kubectl-vw.js pause --help', node, [bundle, 'pause', '--help']],
    ['node dist/kubectl-vw.js status', node, [bundle, 'status']],
  ];
  const sea = existsSync(standalone);
  if (sea)
    commands.push(
      ['standalone kubectl-vw pause --help', standalone, ['pause', '--help']],
      ['standalone kubectl-vw status', standalone, ['status']],
    );
  else log('no standalone executable (npm run package): its cold start is not measured');
  // kubectl's discovery cache in a HOME of its own, warmed by the first run as a user's is.
  const env = { KUBECONFIG: kubeconfig, NO_COLOR: '1', HOME: mkdtempSync(join(tmpdir(), 'vw-bench-home-')) };
  const medians = await coldStarts(commands, runs, env);
  for (const [label, ms] of Object.entries(medians)) log(`${label}: median ${ms} ms`);
  const at = (label: string) => medians[label] ?? Number.NaN;
  const which = sea ? 'standalone kubectl-vw' : 'node dist/kubectl-vw.js';
  return {
    medians,
    ratios: {
      [`${which} pause --help / kubectl version --client`]: round(
        at(`${which} pause --help`) / at('kubectl version --client (Go reference)'),
      ),
      [`${which} status / kubectl get applicationinstances -A`]: round(
        at(`${which} status`) / at('kubectl get applicationinstances -A'),
      ),
    },
  };
}
