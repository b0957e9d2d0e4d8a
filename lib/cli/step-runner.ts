import { formatDuration } from '../duration';
import { ExitCode } from '../errors';
import { acquireLock } from '../kube/lease';
import { waitForObjects } from '../kube/watch';
import type { KubeObject } from '../kube/resources';
import { operatorNamespace, resources } from '../operator/names';
import { type ApplicationInstance, applicationInstanceSchema } from '../operator/schemas';
import { applyChanges, type PlannedChange } from '../steps/changes';
import type { DryRunMode, OutputFormat } from './flags';
import { info, ProgressLine, warn } from './io';
import { type ObjectResult, nameOf, printDocument, resultColumns, summarize } from './output';
import type { Session } from './session';

export interface StepRun {
  /** Document kind for -o json|yaml, e.g. "PauseResult". */
  kind: string;
  verb: string;
  changes: PlannedChange[];
  invalid: { name: string; error: string }[];
  dryRun: DryRunMode;
  output: OutputFormat;
  concurrency: number;
  wait?: {
    keys: string[];
    namespace?: string;
    timeoutMs: number;
    /** The condition the operator must report, for messages. */
    describe: string;
    done: (ai: ApplicationInstance) => boolean;
  };
}

/**
 * Runs a planned step the same way for every plugin: take the lock, apply every change with
 * bounded concurrency, wait for the operator through a watch, print one row per object and a
 * summary, and return the exit code (1 if any object failed, 4 if the wait timed out).
 */
export async function runStep(s: Session, run: StepRun): Promise<number> {
  const { io, client } = s;
  const mutating = run.dryRun === 'none';
  const lock = mutating ? await acquireLock(client, operatorNamespace, run.kind) : undefined;
  const progress = new ProgressLine(io);
  let results: ObjectResult[];
  let waitOutcome: { satisfied: string[]; pending: string[]; timedOut: boolean } | undefined;
  const started = Date.now();
  try {
    const todo = run.changes.filter((c) => c.action !== 'none').length;
    results = await applyChanges(client, run.changes, {
      dryRun: run.dryRun,
      concurrency: run.concurrency,
      onResult: (r, done) => {
        progress.update(`${run.verb}: ${done}/${run.changes.length} objects (${todo} to change)`);
        if (r.result === 'failed' && !io.interactive)
          io.err(`failed: ${r.kind} ${r.namespace}/${r.name}: ${r.message}`);
      },
    });
    progress.done();
    for (const inv of run.invalid) {
      results.push({
        kind: 'ApplicationInstance',
        name: inv.name,
        action: 'none',
        result: 'failed',
        message: `does not match the operator's schema: ${inv.error}`,
      });
    }
    if (run.wait && mutating && run.wait.keys.length) {
      const w = run.wait;
      const total = w.keys.length;
      let reported = 0;
      waitOutcome = await waitForObjects(
        client,
        resources.applicationInstances,
        w.keys,
        (obj?: KubeObject) => {
          if (!obj) return false;
          const parsed = applicationInstanceSchema.safeParse(obj);
          return parsed.success && w.done(parsed.data);
        },
        {
          namespace: w.namespace,
          timeoutMs: w.timeoutMs,
          onChange: (key, _obj, ok) => {
            if (!ok) return;
            reported++;
            progress.update(`waiting for ${w.describe}: ${reported}/${total}`);
            if (!io.interactive && run.output !== 'name') io.err(`${key}: ${w.describe}`);
          },
        },
      );
      progress.done();
    }
  } finally {
    await lock?.release();
  }
  const counts = summarize(results);
  const pendingSet = new Set(waitOutcome?.pending ?? []);
  if (pendingSet.size) {
    for (const r of results) {
      if (r.kind === 'ApplicationInstance' && pendingSet.has(`${r.namespace}/${r.name}`) && r.result !== 'failed') {
        r.message = `${r.message ? `${r.message}; ` : ''}operator has not reported ${run.wait?.describe}`;
      }
    }
  }
  printDocument(
    io,
    run.output,
    {
      apiVersion: 'kubectl-vw.vworkspace.io/v1alpha1',
      kind: run.kind,
      context: s.target.context,
      dryRun: run.dryRun,
      summary: counts,
      wait: waitOutcome ? { ...waitOutcome, condition: run.wait?.describe } : null,
      items: results,
    },
    results,
    resultColumns(),
    (r) => nameOf(r.kind, r.name),
  );
  const dry = run.dryRun === 'none' ? '' : ` (dry run: ${run.dryRun})`;
  const toChange = counts.changed + counts.planned + counts.validated;
  info(
    io,
    `${run.verb}${dry}: ${toChange} ${run.dryRun === 'none' ? 'changed' : 'to change'}, ${counts.unchanged} unchanged, ${counts.failed} failed in ${formatDuration(Date.now() - started)}`,
  );
  if (waitOutcome?.timedOut) {
    warn(
      io,
      `${waitOutcome.pending.length} of ${run.wait?.keys.length} never reported ${run.wait?.describe}: ${waitOutcome.pending.slice(0, 10).join(', ')}${waitOutcome.pending.length > 10 ? ', ...' : ''}`,
    );
    info(io, '  is the operator running? check: kubectl -n vworkspace-system get deploy');
  }
  if (counts.failed) return ExitCode.someFailed;
  if (waitOutcome?.timedOut) return ExitCode.timeout;
  return ExitCode.ok;
}
