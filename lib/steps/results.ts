// What every mutating step returns: one result per object, in one shape for every printer.

export const dryRunModes = ['none', 'client', 'server'] as const;
export type DryRunMode = (typeof dryRunModes)[number];

export type ResultState = 'changed' | 'unchanged' | 'failed' | 'planned' | 'validated' | 'skipped';

/** One row per object a mutating command touched: what was decided and what happened. */
export interface ObjectResult {
  kind: string;
  namespace?: string;
  name: string;
  /** What the plan wanted: e.g. pause, suspend, delete, none. */
  action: string;
  /**
   * changed | unchanged | failed | planned (client dry run) | validated (server dry run) |
   * skipped (not attempted: the run was interrupted first).
   */
  result: ResultState;
  message?: string;
}

export type ResultCounts = Record<ResultState, number>;

export function summarize(results: readonly Pick<ObjectResult, 'result'>[]): ResultCounts {
  const counts: ResultCounts = { changed: 0, unchanged: 0, failed: 0, planned: 0, validated: 0, skipped: 0 };
  for (const r of results) counts[r.result]++;
  return counts;
}

/** What a dry run of a mode does with an object that would change. */
export const dryResult = (mode: DryRunMode): ResultState =>
  mode === 'client' ? 'planned' : mode === 'server' ? 'validated' : 'changed';

export const skippedResult = (r: Omit<ObjectResult, 'result' | 'message'>): ObjectResult => ({
  ...r,
  result: 'skipped',
  message: 'not attempted: the run stopped first',
});
