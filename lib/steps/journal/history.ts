import type { Environment } from '../../deps';
import type { KubeClient } from '../../kube/client';
import { core } from '../../kube/resources';
import { lockLeaseName, toolNamespace } from '../../operator/names';
import { type JournalEntry, type JournalSummary, type Liveness, type RunState, runState } from './entry';
import { readJournal } from './store';

/** One run as history shows it: the entry, and where it stands (an entry with no end judged). */
export interface RunView extends JournalEntry {
  state: RunState;
  stateReason?: string;
}

export interface RunHistory {
  /** Newest first. */
  items: RunView[];
  summary: JournalSummary;
}

interface LeaseSpec {
  holderIdentity?: string;
  renewTime?: string;
  leaseDurationSeconds?: number;
}

/** The journal and the lock, read at once, each entry judged: a run with no end is running or interrupted. */
export async function readHistory(
  client: KubeClient,
  here: { now: number; env: Pick<Environment, 'machine' | 'processAlive'> },
): Promise<RunHistory> {
  const [journal, lease] = await Promise.all([
    readJournal(client),
    client.find(core.leases, lockLeaseName, toolNamespace).catch(() => undefined),
  ]);
  const spec = lease?.spec as LeaseSpec | undefined;
  const liveness: Liveness = {
    now: here.now,
    lease: spec && {
      holder: spec.holderIdentity,
      renewTime: spec.renewTime,
      durationSeconds: spec.leaseDurationSeconds,
    },
    machine: here.env.machine(),
    processAlive: (pid) => here.env.processAlive(pid),
  };
  const items = journal.entries.map((e) => {
    const { state, why } = runState(e, liveness);
    return { ...e, state, ...(why ? { stateReason: why } : {}) };
  });
  return { items, summary: journal.summary };
}
