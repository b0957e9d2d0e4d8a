import type { Argv } from 'yargs';
import { parseRequestTimeout, requirePositiveDuration } from '../duration';
import { UsageError } from '../errors';
import type { KubeFlags } from '../kube/config';

export const outputFormats = ['table', 'wide', 'json', 'yaml', 'name'] as const;
export type OutputFormat = (typeof outputFormats)[number];
export const dryRunModes = ['none', 'client', 'server'] as const;
export type DryRunMode = (typeof dryRunModes)[number];

/** The flags every plugin shares, as kubectl spells them. */
export interface GlobalArgs extends KubeFlags {
  'all-namespaces'?: boolean;
  selector?: string;
  output: OutputFormat;
  'request-timeout': string;
  verbose: boolean;
}

export function withGlobalFlags<T>(y: Argv<T>) {
  return y
    .option('kubeconfig', {
      type: 'string',
      describe: 'Path to the kubeconfig file (default: KUBECONFIG, then ~/.kube/config)',
      group: 'Cluster:',
    })
    .option('context', { type: 'string', describe: 'The kubeconfig context to use', group: 'Cluster:' })
    .option('cluster', { type: 'string', describe: 'The kubeconfig cluster to use', group: 'Cluster:' })
    .option('user', { type: 'string', describe: 'The kubeconfig user to use', group: 'Cluster:' })
    .option('namespace', {
      alias: 'n',
      type: 'string',
      describe: "Namespace (default: the context's)",
      group: 'Cluster:',
    })
    .option('request-timeout', {
      type: 'string',
      default: '0',
      describe: 'Time to wait for one API request (0: no limit), e.g. 30s',
      group: 'Cluster:',
    })
    .option('output', {
      alias: 'o',
      choices: outputFormats,
      default: 'table' as OutputFormat,
      describe: 'Output format',
    })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'Show stack traces and API retries' });
}

export function withSelectionFlags<T>(y: Argv<T>) {
  return y
    .option('all', {
      type: 'boolean',
      default: false,
      describe: 'Every ApplicationInstance in every namespace (with -n: in that namespace)',
    })
    .option('all-namespaces', { alias: 'A', type: 'boolean', default: false, describe: 'Look in every namespace' })
    .option('selector', { alias: 'l', type: 'string', describe: 'Label selector, e.g. app=shop,tier!=dev' })
    .option('filename', {
      alias: 'f',
      type: 'string',
      describe: 'Read names from a file ("-" for stdin), as `kubectl get -o name` prints them',
    });
}

export interface MutationArgs {
  'dry-run': DryRunMode;
  yes: boolean;
}

export function withMutationFlags<T>(y: Argv<T>) {
  return y
    .option('dry-run', {
      type: 'string',
      choices: dryRunModes,
      default: 'none' as DryRunMode,
      describe: 'client: print the plan only; server: also have the API server validate every change (dryRun=All)',
      // kubectl accepts a bare --dry-run as client.
      coerce: (v: string | boolean) => (v === true || v === '' ? 'client' : v === false ? 'none' : v),
    })
    .option('yes', {
      alias: 'y',
      type: 'boolean',
      default: false,
      describe: 'Do not ask for confirmation (for scripts)',
    });
}

export interface WaitArgs {
  wait: boolean;
  timeout: string;
}

export function withWaitFlags<T>(y: Argv<T>, defaultTimeout = '5m') {
  return y
    .option('wait', {
      type: 'boolean',
      default: true,
      describe: 'Wait for the operator to report the change (--no-wait to skip)',
    })
    .option('timeout', {
      type: 'string',
      default: defaultTimeout,
      describe: 'How long to wait, as a Go duration (e.g. 90s, 10m)',
    });
}

export const requestTimeoutMs = (args: { 'request-timeout': string }) => parseRequestTimeout(args['request-timeout']);
export const waitTimeoutMs = (args: WaitArgs) => requirePositiveDuration('--timeout', args.timeout);

export function concurrencyOf(value: unknown): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    throw new UsageError(`invalid --concurrency "${value}": expected a whole number from 1 to 256`);
  }
  return n;
}
