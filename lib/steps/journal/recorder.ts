import { randomBytes } from 'node:crypto';
import type { Clock, Environment } from '../../deps';
import { ApiError } from '../../kube/api-error';
import type { KubeClient } from '../../kube/client';
import { journalName, toolNamespace } from '../../operator/names';
import { type JournalEntry, outcomeOf } from './entry';

/**
 * One run's entry in the journal. Commands say what they did (note, plan); the start is recorded
 * once, right before the run takes the lock (from there on it may act), and the end by the entry
 * point however the run ends. A dry run never takes the lock, so it is never recorded.
 */
export interface RunJournal {
  /** The random part of this run's lock holder too: history tells a live run by it. */
  readonly runId: string;
  /** The plan the run executes, and the options it runs with (the plan's, not the command line's). */
  setPlan(digest: string, options: Record<string, unknown>): void;
  /** What a part of the run (a step, or the command itself) did: counts of changed, unchanged, failed, ... */
  note(part: string, counts: Record<string, number>): void;
  /** Records the start; once per run, and never an error: a journal not written is a warning. */
  begin(client: KubeClient): Promise<void>;
  /** Records the end, if the start was recorded. */
  end(exitCode: number, message?: string): Promise<void>;
}

export interface RunJournalOptions {
  command: string;
  /** The command's options; connection flags are left out (the target's identity is recorded). */
  options: Record<string, unknown>;
  env: Environment;
  clock: Clock;
  toolVersion: string;
  warn(line: string): void;
}

/** How long recording a start or an end may take. */
const writeTimeoutMs = 15_000;

const secretFree = (o: Record<string, unknown>) => {
  const { connection: _c, output: _o, verbose: _v, ...rest } = o;
  return rest;
};

/** Why the journal was not written, in one line: a missing permission named as such. */
function whyNotWritten(err: unknown, user: string) {
  if (err instanceof ApiError && err.status === 403)
    return `${user} may not write ConfigMap ${toolNamespace}/${journalName} (get, create, patch); the run goes on, unrecorded`;
  return `${(err as Error).message}; the run goes on, unrecorded`;
}

/** The entry as the run starts: who (as the API server sees them), where, on which cluster, with what. */
async function startEntry(
  o: RunJournalOptions,
  client: KubeClient,
  runId: string,
  planDigest: string | undefined,
): Promise<JournalEntry> {
  const [{ readClusterIdentity }, { whoAmI }] = await Promise.all([
    import('../../kube/identity'),
    import('../../kube/whoami'),
  ]);
  const [target, user] = await Promise.all([readClusterIdentity(client), whoAmI(client)]);
  const machine = o.env.machine();
  return {
    id: runId,
    command: o.command,
    options: secretFree(o.options),
    ...(planDigest ? { planDigest } : {}),
    user,
    host: o.env.hostname,
    pid: o.env.pid,
    ...(machine ? { bootId: machine.bootId, pidNamespace: machine.pidNamespace } : {}),
    target,
    tool: o.toolVersion,
    startedAt: new Date(o.clock.now()).toISOString(),
  };
}

export function runJournal(o: RunJournalOptions): RunJournal {
  const runId = randomBytes(4).toString('hex');
  let planDigest: string | undefined;
  let options = o.options;
  const counts: Record<string, Record<string, number>> = {};
  let begun = false;
  let recorded: { client: KubeClient; entry: JournalEntry } | undefined;
  const write = async (client: KubeClient, entry: JournalEntry) => (await import('./store')).writeEntry(client, entry);
  // Bounded: an API server that does not answer delays a run by this much at most, never for ever.
  const bounded = (client: KubeClient) => client.withSignal(AbortSignal.timeout(writeTimeoutMs));
  return {
    runId,
    setPlan: (d, planned) => {
      planDigest = d;
      options = planned;
    },
    note: (part, c) => {
      counts[part] = { ...c };
    },
    async begin(client) {
      if (begun) return;
      begun = true;
      let entry: JournalEntry | undefined;
      try {
        const c = bounded(client);
        entry = await startEntry({ ...o, options }, c, runId, planDigest);
        await write(c, entry);
        recorded = { client, entry };
      } catch (err) {
        o.warn(`not recorded in the run journal: ${whyNotWritten(err, entry?.user.username ?? client.target.user)}`);
      }
    },
    async end(exitCode, message) {
      if (!recorded) return;
      const { client, entry } = recorded;
      const ended: JournalEntry = {
        ...entry,
        finishedAt: new Date(o.clock.now()).toISOString(),
        outcome: outcomeOf(exitCode),
        exitCode,
        ...(Object.keys(counts).length ? { counts } : {}),
        ...(message && exitCode !== 0 ? { message: message.split('\n')[0] } : {}),
      };
      try {
        await write(bounded(client), ended);
      } catch (err) {
        o.warn(`the end of this run is not recorded in the run journal: ${whyNotWritten(err, entry.user.username)}`);
      }
    },
  };
}
