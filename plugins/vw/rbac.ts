import yargs, { type Argv } from 'yargs';
import type { VwCommand } from '../../lib/cli/command';
import type { RbacCommand, RbacOptions } from '../../lib/cli/commands/rbac';
import type { Deps } from '../../lib/deps';
import { UsageError } from '../../lib/errors';
import { requireNamespaceName } from '../../lib/kube/namespace-name';
import type { Subject } from '../../lib/cli/printers/rbac';
import { backupCommand } from '../backup/command';
import { decommissionCommand } from '../decommission/command';
import { pauseCommand } from '../pause/command';
import { purgeCommand } from '../purge/command';
import { resumeCommand } from '../resume/command';
import { statusCommand } from './status';
import { uninstallCommand } from './uninstall';

/** The commands whose rights kubectl vw rbac prints, each with its own flags. */
export const rbacTargets: Record<RbacCommand, VwCommand> = {
  pause: pauseCommand,
  resume: resumeCommand,
  backup: backupCommand,
  decommission: decommissionCommand,
  purge: purgeCommand,
  status: statusCommand,
  uninstall: uninstallCommand,
};

const usage = `kubectl vw rbac [COMMAND] [that command's flags] [--serviceaccount NS:NAME | --user NAME | --group NAME]

Prints the ClusterRole and Roles that COMMAND needs with those flags (every rule is checked by the
command itself before it changes anything), and with a subject their bindings: YAML to review and
kubectl apply. COMMAND is one of ${Object.keys(rbacTargets).join(', ')}; without it, uninstall (the whole procedure).`;

interface RbacArgs {
  serviceaccount?: string;
  user?: string;
  group?: string;
  'role-name'?: string;
  output: 'yaml' | 'json';
}

/** rbac's own flags, on top of the command's (its --user is the subject, not the kubeconfig's user). */
export function withRbacFlags<T>(y: Argv<T>) {
  return y
    .option('serviceaccount', { type: 'string', describe: 'Bind the roles to this ServiceAccount (NAMESPACE:NAME)' })
    .option('user', { type: 'string', describe: 'Bind the roles to this user' })
    .option('group', { type: 'string', describe: 'Bind the roles to this group' })
    .option('role-name', { type: 'string', describe: 'Name of the roles and bindings (default kubectl-vw-COMMAND)' })
    .option('output', { alias: 'o', choices: ['yaml', 'json'], default: 'yaml', describe: 'Output format' })
    .conflicts('serviceaccount', ['user', 'group'])
    .conflicts('user', 'group')
    .example('kubectl vw rbac backup -n shop --retry-failed', 'What backup needs in namespace shop, as Roles')
    .example(
      'kubectl vw rbac purge --delete-apps --serviceaccount ops:platform | kubectl apply -f -',
      'Grant a ServiceAccount exactly what purge --delete-apps needs',
    )
    .example('kubectl vw rbac uninstall --delete-crds --user alice', 'The whole procedure, for a user');
}

function subjectOf(args: RbacArgs): Subject | undefined {
  if (args.serviceaccount !== undefined) {
    const m = /^([^:]+):([^:]+)$/.exec(args.serviceaccount);
    if (!m) throw new UsageError(`invalid --serviceaccount "${args.serviceaccount}": expected NAMESPACE:NAME`);
    return { kind: 'ServiceAccount', namespace: requireNamespaceName(m[1] as string), name: m[2] as string };
  }
  if (args.user) return { kind: 'User', name: args.user };
  if (args.group) return { kind: 'Group', name: args.group };
  return undefined;
}

/** The positional words of a command's own string (pause [names..], decommission [cluster]), from argv's rest. */
function positionals(target: VwCommand, rest: (string | number)[]): Record<string, unknown> {
  const spec = /[[<]([\w-]+)(\.\.)?[\]>]/.exec(target.command);
  if (!spec) return {};
  const words = rest.map(String);
  return { [spec[1] as string]: spec[2] ? words : words[0] };
}

/**
 * Parses `rbac COMMAND ARGS...` with COMMAND's own parser plus rbac's flags, so every flag the
 * command takes means here what it means there; --help shows both.
 */
export async function parseRbac(argv: string[], deps: Deps): Promise<RbacOptions | undefined> {
  const named = argv[0] && !argv[0].startsWith('-') ? argv[0] : undefined;
  if (named && !(named in rbacTargets))
    throw new UsageError(
      `kubectl vw rbac: unknown command "${named}"`,
      `name one of ${Object.keys(rbacTargets).join(', ')}`,
    );
  const command = (named ?? 'uninstall') as RbacCommand;
  const target = rbacTargets[command];
  const words = named ? argv.slice(1) : argv;
  const parser = withRbacFlags(target.builder(yargs()))
    .scriptName(`kubectl vw rbac ${command}`)
    .usage(usage)
    .parserConfiguration({ 'boolean-negation': true, 'camel-case-expansion': false })
    .strict()
    .exitProcess(false)
    .help('help')
    .alias('help', 'h')
    .version(false)
    .wrap(null)
    .fail((msg, err) => {
      throw err ?? new UsageError(msg ?? 'invalid usage', 'see: kubectl vw rbac --help');
    });
  let help = '';
  const args = (await parser.parseAsync(words, {}, (_e, _a, text) => {
    help = text;
  })) as unknown as RbacArgs & { _: (string | number)[] };
  if (help) {
    deps.io.out(help);
    return undefined;
  }
  // What a command needs does not depend on the TTL, which backup and uninstall otherwise require.
  const own = { ttl: '8760h', ...args, user: undefined, output: 'table', ...positionals(target, args._) };
  return {
    command,
    options: target.toOptions(own),
    words,
    subject: subjectOf(args),
    roleName: args['role-name'],
    output: args.output,
  };
}

export const rbacCommand: VwCommand<object, object> = {
  command: 'rbac [command] [args..]',
  describe: 'Print the RBAC (ClusterRole, Roles, bindings) a command needs with its flags, to review and apply',
  builder: (y: Argv) => withRbacFlags(y.usage(usage)),
  toOptions: () => ({}),
  run: async () => {
    throw new UsageError('kubectl vw rbac is parsed by its own parser');
  },
  nested: { targets: rbacTargets, flags: (y: Argv) => withRbacFlags(y) as unknown as Argv },
  raw: async (argv: string[], deps: Deps) => {
    const o = await parseRbac(argv, deps);
    if (!o) return 0;
    return (await import('../../lib/cli/commands/rbac')).runRbac(o, deps);
  },
};
