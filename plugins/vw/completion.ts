import type { CommandModule } from 'yargs';
import { KubeClient } from '../../lib/kube/client';
import { resolveKubeTarget } from '../../lib/kube/config';
import { core } from '../../lib/kube/resources';
import { resources } from '../../lib/operator/names';

// kubectl (1.26+) completes plugin arguments by running `kubectl_complete-vw ARGS... ''`, which
// calls this hidden command; the answer is one candidate per line and a cobra directive last.
const noFileCompletion = 4;

const steps: Record<string, string> = {
  pause: 'Step 1: pause ApplicationInstances',
  resume: 'Undo pause',
  backup: 'Step 2: final backups',
  decommission: 'Step 3: delete the Cluster CR',
  purge: 'Steps 4 and 5: uninstall the operator',
  status: 'Where the cluster stands',
  uninstall: 'The whole procedure in order',
  version: 'Print the version',
};

const flagsByStep: Record<string, string[]> = {
  pause: ['--all', '--suspend-helmreleases', '--all-helmreleases', '--wait', '--timeout', '--dry-run'],
  resume: ['--all', '--force-all', '--skip-helmreleases', '--wait', '--timeout', '--dry-run'],
  backup: [
    '--all',
    '--ttl',
    '--storage-location',
    '--snapshot-volumes',
    '--csi-snapshot-class',
    '--name-suffix',
    '--retry-failed',
    '--strict',
    '--require-available-location',
    '--timeout',
    '--dry-run',
    '-f',
  ],
  decommission: [
    '--skip-backup-check',
    '--force-preflight',
    '--force',
    '--fail-fast',
    '--timeout',
    '--dry-run',
    '--yes',
  ],
  purge: [
    '--delete-apps',
    '--keep-apps',
    '--skip-backup-check',
    '--delete-crds',
    '--delete-namespace',
    '--force-preflight',
    '--helm',
    '--report',
    '--dry-run',
    '--yes',
  ],
  status: [],
  uninstall: [
    '--ttl',
    '--skip-backup',
    '--suspend-helmreleases',
    '--delete-apps',
    '--delete-crds',
    '--delete-namespace',
    '--dry-run',
    '--yes',
  ],
};
const globalFlags = [
  '--namespace',
  '--all-namespaces',
  '--selector',
  '--output',
  '--context',
  '--kubeconfig',
  '--request-timeout',
  '--help',
];

function flagValue(words: string[], ...names: string[]): string | undefined {
  for (let i = 0; i < words.length - 1; i++) if (names.includes(words[i] as string)) return words[i + 1];
  return undefined;
}

export async function completions(words: string[]): Promise<string[]> {
  const current = words.at(-1) ?? '';
  const before = words.slice(0, -1);
  const step = before[0];
  if (!step)
    return Object.entries(steps)
      .map(([k, v]) => `${k}\t${v}`)
      .filter((c) => c.startsWith(current));
  const previous = before.at(-1);
  if (current.startsWith('-'))
    return [...(flagsByStep[step] ?? []), ...globalFlags].filter((f) => f.startsWith(current));
  if (previous === '-o' || previous === '--output')
    return ['table', 'wide', 'json', 'yaml', 'name'].filter((f) => f.startsWith(current));
  if (previous === '--dry-run') return ['none', 'client', 'server'].filter((f) => f.startsWith(current));
  const target = (() => {
    try {
      return resolveKubeTarget({
        kubeconfig: flagValue(before, '--kubeconfig'),
        context: flagValue(before, '--context'),
      });
    } catch {
      return undefined;
    }
  })();
  if (!target) return [];
  const client = new KubeClient(target, { requestTimeoutMs: 5000, maxAttempts: 1 });
  try {
    if (previous === '-n' || previous === '--namespace') {
      const { items } = await client.list(core.namespaces);
      return items.map((n) => n.metadata.name).filter((n) => n.startsWith(current));
    }
    if (['pause', 'resume', 'backup'].includes(step)) {
      const ns = flagValue(before, '-n', '--namespace') ?? target.namespace;
      const { items } = await client.list(resources.applicationInstances, { namespace: ns });
      return items.map((i) => i.metadata.name).filter((n) => n.startsWith(current));
    }
    if (step === 'decommission') {
      const { items } = await client.list(resources.clusters, {
        namespace: flagValue(before, '-n', '--namespace') ?? 'vworkspace-system',
      });
      return items.map((i) => i.metadata.name).filter((n) => n.startsWith(current));
    }
  } catch {
    return [];
  } finally {
    client.close();
  }
  return [];
}

export const completeCommand: CommandModule<object, { words: string[] }> = {
  command: '__complete [words..]',
  describe: false,
  builder: (y) => y.strict(false).positional('words', { type: 'string', array: true }) as never,
  handler: async (args) => {
    const words = (args.words ?? []).map(String);
    const raw = process.argv.slice(process.argv.indexOf('__complete') + 1);
    const list = await completions(raw.length ? raw : words).catch(() => []);
    process.stdout.write(`${list.join('\n')}${list.length ? '\n' : ''}:${noFileCompletion}\n`);
  },
};
