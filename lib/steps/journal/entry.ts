import type { ClusterIdentity } from '../../kube/identity';
import type { Caller } from '../../kube/whoami';

/** How a run ended, from its exit code (README "Exit codes"). */
export type RunOutcome = 'succeeded' | 'failed' | 'refused' | 'timed-out' | 'interrupted';

/** One run of a mutating command, recorded before it acts and again once it ends. */
export interface JournalEntry {
  /** Random, and the same as the random part of the run's lock holder: history can tell a live run. */
  id: string;
  command: string;
  /** The options it ran with (connection secrets never: only the target's identity). */
  options: Record<string, unknown>;
  /** The digest of the plan it executed (kubectl vw uninstall --plan). */
  planDigest?: string;
  user: Caller;
  host: string;
  pid: number;
  /** With the PID namespace, what makes the pid mean one process (as the lock's holder identity). */
  bootId?: string;
  pidNamespace?: string;
  target: ClusterIdentity;
  tool: string;
  startedAt: string;
  finishedAt?: string;
  outcome?: RunOutcome;
  exitCode?: number;
  /** What it did, by part (a step of uninstall, or the command itself): changed, unchanged, failed, ... */
  counts?: Record<string, Record<string, number>>;
  /** Why it stopped, when it did not succeed: the error's one line. */
  message?: string;
}

/** The entries rolled out of the journal to keep it bounded, counted by command and outcome. */
export interface JournalSummary {
  rolledUp: number;
  /** When the oldest and the newest run rolled up started. */
  from?: string;
  to?: string;
  runs: Record<string, Record<string, number>>;
}

export const emptySummary = (): JournalSummary => ({ rolledUp: 0, runs: {} });

export const outcomeOf = (exitCode: number): RunOutcome =>
  exitCode === 0
    ? 'succeeded'
    : exitCode === 1
      ? 'failed'
      : exitCode === 4
        ? 'timed-out'
        : exitCode === 130
          ? 'interrupted'
          : 'refused';

/** An entry's key in the ConfigMap: sorts as the runs started (ConfigMap keys allow [-._a-zA-Z0-9]). */
export const entryKey = (e: Pick<JournalEntry, 'startedAt' | 'id'>) => `run-${e.startedAt.replace(/:/g, '-')}-${e.id}`;
export const isEntryKey = (k: string) => k.startsWith('run-');

/** What is known of the lock and this machine, to tell a run still going from one killed half-way. */
export interface Liveness {
  now: number;
  lease?: { holder?: string; renewTime?: string; durationSeconds?: number };
  machine?: { bootId: string; pidNamespace: string };
  processAlive(pid: number): boolean;
}

/** A run started this recently may still be waiting for the lock (taken right after its start is recorded). */
const lockWaitMs = 120_000;

export type RunState = RunOutcome | 'running';

/**
 * Where a run stands. One with an end says how it ended. One without: running while it holds the
 * lock (its id is its holder's random part) or its process on this machine lives; interrupted
 * (killed half-way: SIGKILL, a crash, a machine gone) once neither can be.
 */
export function runState(e: JournalEntry, l: Liveness): { state: RunState; why?: string } {
  if (e.outcome) return { state: e.outcome };
  const local = l.machine && e.bootId === l.machine.bootId && e.pidNamespace === l.machine.pidNamespace;
  if (local)
    return l.processAlive(e.pid)
      ? { state: 'running', why: `process ${e.pid} on this machine is running` }
      : { state: 'interrupted', why: `no end recorded, and its process ${e.pid} on this machine is gone` };
  const renewed = Date.parse(l.lease?.renewTime ?? '');
  const fresh = renewed + (l.lease?.durationSeconds ?? 30) * 1000 > l.now;
  if (l.lease?.holder?.split('/')[2] === e.id && fresh) return { state: 'running', why: 'it holds the lock' };
  if (l.now - Date.parse(e.startedAt) < lockWaitMs)
    return { state: 'running', why: 'started moments ago (it may be waiting for the lock)' };
  return { state: 'interrupted', why: 'no end recorded, and it does not hold the lock' };
}

/** Adds one entry to the roll-up. */
export function rollInto(summary: JournalSummary, e: JournalEntry): JournalSummary {
  const outcome = e.outcome ?? 'no end recorded';
  const byOutcome = { ...(summary.runs[e.command] ?? {}) };
  byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1;
  return {
    rolledUp: summary.rolledUp + 1,
    from: summary.from && summary.from < e.startedAt ? summary.from : e.startedAt,
    to: summary.to && summary.to > e.startedAt ? summary.to : e.startedAt,
    runs: { ...summary.runs, [e.command]: byOutcome },
  };
}
