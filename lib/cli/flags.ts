import type { Argv, Options } from 'yargs';
import { parseGoDuration, parseRequestTimeout, requirePositiveDuration } from '../duration';
import { UsageError } from '../errors';
import type { ConnectionFlags } from '../kube/config';
import { requireNamespaceName } from '../kube/namespace-name';
import { type DryRunMode, dryRunModes } from '../steps/results';
import type { SelectionInput } from '../steps/selection';
import { defaults } from './defaults';

export const outputFormats = ['table', 'wide', 'json', 'yaml', 'name'] as const;
export type OutputFormat = (typeof outputFormats)[number];

// Each flag is declared once, here; commands pick the groups they take.

const cluster = 'Cluster flags (as kubectl):';

/** kubectl's genericclioptions.ConfigFlags, every one of them. */
const connectionOptions: Record<string, Options> = {
  kubeconfig: { type: 'string', describe: 'Path to the kubeconfig file (default: KUBECONFIG, then ~/.kube/config)' },
  context: { type: 'string', describe: 'The kubeconfig context to use' },
  cluster: { type: 'string', describe: 'The kubeconfig cluster to use' },
  user: { type: 'string', describe: 'The kubeconfig user to use' },
  namespace: { alias: 'n', type: 'string', describe: "Namespace (default: the context's, else default)" },
  server: { alias: 's', type: 'string', describe: 'The address and port of the Kubernetes API server' },
  token: { type: 'string', describe: 'Bearer token for authentication to the API server' },
  'certificate-authority': { type: 'string', describe: 'Path to a cert file for the certificate authority' },
  'client-certificate': { type: 'string', describe: 'Path to a client certificate file for TLS' },
  'client-key': { type: 'string', describe: 'Path to a client key file for TLS' },
  'insecure-skip-tls-verify': {
    type: 'boolean',
    describe: "Do not check the server's certificate (insecure)",
  },
  'tls-server-name': { type: 'string', describe: 'Server name to use for server certificate validation' },
  as: { type: 'string', describe: 'Username to impersonate for the operation' },
  // One value per occurrence, as kubectl's StringArray: never `array: true`, which takes every
  // following word (`--as-group g NAME` would make NAME a group and widen the selection to all).
  'as-group': { type: 'string', describe: 'Group to impersonate (repeat for several)' },
  'as-uid': { type: 'string', describe: 'UID to impersonate for the operation' },
  'request-timeout': {
    type: 'string',
    default: defaults.requestTimeout,
    describe: 'Time to wait for one API request (0: no limit), e.g. 30s',
  },
};

export interface GlobalArgs {
  kubeconfig?: string;
  context?: string;
  cluster?: string;
  user?: string;
  namespace?: string;
  server?: string;
  token?: string;
  'certificate-authority'?: string;
  'client-certificate'?: string;
  'client-key'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
  as?: string;
  'as-group'?: string | string[];
  'as-uid'?: string;
  'request-timeout': string;
  output: OutputFormat;
  verbose: boolean;
}

export function withGlobalFlags<T>(y: Argv<T>) {
  let out = y as Argv<unknown>;
  for (const [key, opt] of Object.entries(connectionOptions)) out = out.option(key, { ...opt, group: cluster });
  return out
    .option('output', {
      alias: 'o',
      choices: outputFormats,
      default: defaults.output as OutputFormat,
      describe: 'Output format',
    })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'Show stack traces and API retries' });
}

/** The connection flags as the kube layer takes them. */
export function toConnection(args: GlobalArgs): ConnectionFlags {
  return {
    kubeconfig: args.kubeconfig,
    context: args.context,
    cluster: args.cluster,
    user: args.user,
    namespace: args.namespace,
    server: args.server,
    token: args.token,
    certificateAuthority: args['certificate-authority'],
    clientCertificate: args['client-certificate'],
    clientKey: args['client-key'],
    insecureSkipTlsVerify: args['insecure-skip-tls-verify'],
    tlsServerName: args['tls-server-name'],
    as: args.as,
    asGroups: args['as-group'] === undefined ? undefined : [args['as-group']].flat(),
    asUid: args['as-uid'],
    requestTimeoutMs: parseRequestTimeout(args['request-timeout']),
  };
}

/** What every command's options carry. */
export interface CommonOptions {
  connection: ConnectionFlags;
  output: OutputFormat;
  verbose: boolean;
}

export const toCommon = (args: GlobalArgs): CommonOptions => ({
  connection: toConnection(args),
  output: args.output,
  verbose: args.verbose,
});

export interface SelectionArgs {
  names?: string[];
  all?: boolean;
  'all-namespaces'?: boolean;
  selector?: string;
  filename?: string;
}

export function withSelectionFlags<T>(y: Argv<T>) {
  return y
    .positional('names', {
      type: 'string',
      array: true,
      describe: 'ApplicationInstance names: NAME (in -n NAMESPACE) or NAMESPACE/NAME',
    })
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
      describe:
        'Read names from a file ("-" for stdin): lines of NAME, NAMESPACE/NAME or KIND/NAME (as `kubectl get -o name` prints them), or the -o json|yaml of any kubectl vw command or of `kubectl get`',
    });
}

export const toSelection = (args: SelectionArgs, emptyMeansAll = false): SelectionInput => ({
  names: args.names ?? [],
  all: Boolean(args.all),
  allNamespaces: Boolean(args['all-namespaces']),
  selector: args.selector,
  filename: args.filename,
  emptyMeansAll,
});

export interface MutationArgs {
  'dry-run': DryRunMode;
  yes: boolean;
}

export function withMutationFlags<T>(y: Argv<T>) {
  return y
    .option('dry-run', {
      type: 'string',
      choices: dryRunModes,
      default: defaults.dryRun as DryRunMode,
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

export function withWaitFlags<T>(y: Argv<T>, defaultTimeout: string) {
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

export function withTimeoutFlag<T>(y: Argv<T>, defaultTimeout: string, describe: string) {
  return y.option('timeout', { type: 'string', default: defaultTimeout, describe });
}

export function withConcurrencyFlag<T>(y: Argv<T>) {
  return y.option('concurrency', {
    type: 'number',
    default: defaults.concurrency,
    describe: 'Requests in flight at once (1-256)',
  });
}

export const timeoutMs = (text: string) => requirePositiveDuration('--timeout', text);

export function concurrencyOf(value: unknown): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    throw new UsageError(`invalid --concurrency "${value}": expected a whole number from 1 to 256`);
  }
  return n;
}

/** How long before its expiry a final backup stops counting: backup, decommission, purge, uninstall judge by it. */
export function withExpiryMarginFlag<T>(y: Argv<T>) {
  return y.option('expiry-margin', {
    type: 'string',
    default: defaults.backup.expiryMargin,
    describe: 'A final backup counts only if it expires later than this from now (a Go duration)',
  });
}

/** What may follow `<application>-` in an Operation's name: the rest of a DNS-1123 subdomain. */
const nameSuffixPattern = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export function nameSuffixOf(text: string): string {
  if (!nameSuffixPattern.test(text) || text.length > 200) {
    throw new UsageError(
      `invalid --name-suffix "${text}": Operations are named <application>-<suffix>, a DNS-1123 subdomain`,
      "use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit (e.g. final-backup)",
    );
  }
  return text;
}

export const expiryMarginMs = (text: string) => {
  const ms = parseGoDuration(text);
  if (ms === undefined || ms < 0)
    throw new UsageError(`invalid --expiry-margin "${text}": expected a Go duration such as 24h, 0s`);
  return ms;
};

/** A repeatable, comma-separated list of names (--flag a,b --flag c), each once. */
export const namesList = (values: string | string[] | undefined): string[] => [
  ...new Set(
    [values ?? []]
      .flat()
      .flatMap((v) => String(v).split(','))
      .map((v) => v.trim())
      .filter(Boolean),
  ),
];

/** Where Velero runs: backup, status and every gate survey its Backups there (and where backupRefs point). */
export function withVeleroNamespaceFlag<T>(y: Argv<T>) {
  return y.option('velero-namespace', {
    type: 'string',
    default: defaults.backup.veleroNamespace,
    describe: 'Namespace of Velero, its Backups and storage locations',
  });
}

export const veleroNamespaceOf = (value: string | undefined) =>
  requireNamespaceName(value || defaults.backup.veleroNamespace);
