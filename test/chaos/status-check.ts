import { type ClusterFacts, stepBasis } from './facts';
import { isPaused } from './faults';
import type { Observer } from './observer';
import type { Tally } from './tally';

// `kubectl vw status` agrees with the cluster: each step's verdict against the checker's own
// reading, for every step whose evidence did not move while status ran.

export interface StatusJson {
  steps: { step: number; state: string; evidence: string[] }[];
}

type Step = 1 | 2 | 3 | 4 | 5;

/** What the cluster says of a step: 'done', 'not done', or undefined where the checker has no opinion. */
function truth(step: Step, f: ClusterFacts, observer: Observer): 'done' | 'not done' | undefined {
  const live = f.apps.filter((a) => !a.metadata.deletionTimestamp);
  switch (step) {
    case 1:
      return !f.crds || live.every(isPaused) ? 'done' : 'not done';
    case 2: {
      if (!f.crds || !live.length) return 'done';
      const inFlight = f.operations.some(
        (o) => !['Succeeded', 'Failed'].includes(String((o.status as { phase?: string })?.phase)),
      );
      const verdicts = live.map((a) => observer.judge(`${a.metadata.namespace}/${a.metadata.name}`));
      if (verdicts.some((v) => v.borderline)) return undefined;
      const all = verdicts.every((v) => v.counted);
      return all ? (inFlight ? undefined : 'done') : 'not done';
    }
    case 3:
      return f.clusters.length === 0 ? 'done' : 'not done';
    case 4:
      return !f.crds || f.apps.length + f.operations.length === 0 ? 'done' : 'not done';
    case 5:
      return f.release ? 'not done' : 'done';
  }
}

export function compareStatus(
  status: StatusJson,
  before: ClusterFacts,
  after: ClusterFacts,
  observer: Observer,
  tally: Tally,
): string[] {
  const out: string[] = [];
  const b0 = stepBasis(before);
  const b1 = stepBasis(after);
  for (const s of status.steps) {
    const step = s.step as Step;
    if (b0[step] !== b1[step]) continue;
    const expected = truth(step, after, observer);
    if (!expected) continue;
    tally.count('status');
    const said =
      s.state === 'done' ? 'done' : s.state === 'skipped' && step !== 3 && step !== 5 ? undefined : 'not done';
    if (said && said !== expected)
      out.push(`status says step ${step} is "${s.state}", the cluster says ${expected} (${s.evidence.join('; ')})`);
  }
  return out;
}
