import type { Deps, Session } from '../../deps';
import { ExitCode } from '../../errors';
import { grantsFor, type Need } from '../../steps/needs';
import { readReleaseFacts } from '../../steps/purge/release-resources';
import { resolveSelection, type SelectionInput, selectionScope } from '../../steps/selection';
import type { CommonOptions } from '../flags';
import { warn } from '../io';
import { printRbac, type Subject } from '../printers/rbac';
import { type BackupOptions, backupNeedsOf } from './backup';
import { type DecommissionOptions, decommissionNeedsOf } from './decommission';
import { instanceNeedsOf } from './instance-step';
import type { PauseOptions } from './pause';
import { type PurgeOptions, purgeNeedsOf } from './purge';
import type { ResumeOptions } from './resume';
import { type StatusOptions, statusNeedsOf } from './status';
import { type UninstallOptions, uninstallNeedsOf } from './uninstall';

/** The commands kubectl vw rbac prints the rights of. */
export const rbacCommands = ['pause', 'resume', 'backup', 'decommission', 'purge', 'status', 'uninstall'] as const;
export type RbacCommand = (typeof rbacCommands)[number];

export interface RbacOptions {
  /** The command whose rights are printed, and its options as its own flags made them. */
  command: RbacCommand;
  options: CommonOptions;
  /** The words after the command, as given: the header says what the rights are for. */
  words: string[];
  subject?: Subject;
  roleName?: string;
  output: 'yaml' | 'json';
}

/** Where the rights are for: the kubeconfig's target when there is one, else the flags alone. */
interface Where {
  context: string;
  namespace: string;
  namespaceExplicit: boolean;
  session?: Session;
}

/** The namespace a selection reaches: its namespace, or every one (-A, --all, names elsewhere, -f). */
function scopeOf(input: SelectionInput, where: Pick<Where, 'namespace' | 'namespaceExplicit'>): string | undefined {
  // Names read from a file or stdin may name any namespace: their rights are granted everywhere.
  if (input.filename) return undefined;
  try {
    return selectionScope(resolveSelection(input, [], where.namespace, where.namespaceExplicit));
  } catch {
    // No selection yet (`kubectl vw rbac pause -n shop`): the rights for anything in -n, else everywhere.
    return where.namespaceExplicit ? where.namespace : undefined;
  }
}

/** The target, if the kubeconfig names one: rbac prints rights without a cluster too. */
async function whereOf(o: RbacOptions, deps: Deps): Promise<Where> {
  const flags =
    o.command === 'decommission'
      ? { ...o.options.connection, namespace: (o.options as DecommissionOptions).namespace }
      : o.options.connection;
  try {
    const session = await deps.connect(flags);
    const { context, namespace, namespaceExplicit } = session.target;
    return { context, namespace, namespaceExplicit, session };
  } catch {
    return { context: '(none)', namespace: flags.namespace || 'default', namespaceExplicit: Boolean(flags.namespace) };
  }
}

/**
 * What helm uninstall will need depends on what the release renders: read from the cluster when
 * it can be, else said (the rules printed then cover everything but the release's own objects).
 */
async function releaseFacts(deps: Deps, where: Where) {
  try {
    if (!where.session) throw new Error('no kubeconfig context to read it from');
    return await readReleaseFacts(where.session.client);
  } catch (err) {
    warn(
      deps.io,
      `could not read the operator's helm release (${(err as Error).message}): helm uninstall also needs get and delete on every kind of object it renders`,
    );
    return undefined;
  }
}

/** What a command needs with these options, where they point; the release as read (or not). */
export function declaredNeeds(
  o: Pick<RbacOptions, 'command' | 'options'>,
  where: Pick<Where, 'namespace' | 'namespaceExplicit'>,
  release?: Awaited<ReturnType<typeof readReleaseFacts>>,
): Need[] {
  switch (o.command) {
    case 'pause': {
      const p = o.options as PauseOptions;
      return instanceNeedsOf(p, p.suspendHelmReleases || p.allHelmReleases, scopeOf(p.selection, where));
    }
    case 'resume': {
      const r = o.options as ResumeOptions;
      return instanceNeedsOf(r, !r.skipHelmReleases, scopeOf(r.selection, where));
    }
    case 'backup': {
      const b = o.options as BackupOptions;
      return backupNeedsOf(b, scopeOf(b.selection, where));
    }
    case 'decommission':
      return decommissionNeedsOf(o.options as DecommissionOptions);
    case 'purge':
      return purgeNeedsOf(o.options as PurgeOptions, release);
    case 'status':
      return statusNeedsOf(o.options as StatusOptions);
    case 'uninstall':
      return uninstallNeedsOf(o.options as UninstallOptions, release);
  }
}

async function needsOf(o: RbacOptions, deps: Deps, where: Where): Promise<Need[]> {
  const readsRelease = o.command === 'uninstall' || (o.command === 'purge' && !(o.options as PurgeOptions).report);
  return declaredNeeds(o, where, readsRelease ? await releaseFacts(deps, where) : undefined);
}

/** kubectl vw rbac: the Roles and ClusterRoles a command needs with these flags, and bindings for a subject. */
export async function runRbac(o: RbacOptions, deps: Deps): Promise<number> {
  const where = await whereOf(o, deps);
  try {
    const needs = await needsOf(o, deps, where);
    const name = o.roleName ?? `kubectl-vw-${o.command}`;
    const header = [
      `What \`kubectl vw ${[o.command, ...o.words].join(' ')}\` needs (context ${where.context}).`,
      'Review, then: kubectl apply -f FILE. Every rule is checked by the command before it changes anything.',
    ];
    printRbac(deps.io, o.output, header, grantsFor(needs), name, o.subject);
    return ExitCode.ok;
  } finally {
    where.session?.client.close();
  }
}
