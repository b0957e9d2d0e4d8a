import { concurrentArgs, type Step, stepsOf } from './commands';
import { type Decoy, startDecoy } from './decoy';
import { readFacts } from './facts';
import { type FaultRecord, Injector } from './faults';
import {
  type CheckContext,
  checkDecoy,
  checkDeletions,
  checkExit,
  checkHandObjects,
  checkOverlap,
  checkPersists,
  checkWrites,
  type PersistsJson,
} from './invariants';
import { LeaseTimeline } from './lease-watch';
import { checkLeaseReleased, checkLockSafety } from './lock-safety';
import { Observer } from './observer';
import { checkOrder } from './order';
import type { Rng } from './random';
import { describeRun, kill, type Run, realWrites, startRun } from './runs';
import type { Schedule } from './schedule';
import { compareStatus, type StatusJson } from './status-check';
import { Tally } from './tally';
import { startChaosWorld } from './world';

// One schedule, start to end: a fresh world, the procedure run as a user would (re-run with the
// faults cleared after each failure, up to a bound), and the invariants after every run.

const maxPasses = 5;
/** A run still going after this has hung: longer than every step's --timeout together. */
const hungAfterMs = 6 * 60_000;
/** Long enough for the checker's watches to see what a run just did. */
const settleMs = 300;
/** The chaos world's operator checks Odoo's health this often (the sandbox's 10 s, shortened). */
export const healthIntervalMs = 3_000;
const operatorRecheckMs = healthIntervalMs + 1_000;
const edits = new Set(['new-application', 'delete-velero-backup', 'delete-application', 'capability-flip to true']);

export interface ScheduleResult {
  schedule: Schedule;
  violations: string[];
  injected: number;
  records: FaultRecord[];
  tally: Tally;
  runs: Run[];
  completed: boolean;
  seconds: number;
}

/** Starts a run; the checker's own (status, the report) meet no fault: they are how the checker sees. */
type Start = (label: string, args: string[], checker?: boolean) => Promise<Run>;

export async function runSchedule(schedule: Schedule, rng: Rng, apps: number, log: (l: string) => void) {
  const started = Date.now();
  const cw = await startChaosWorld(apps, () => {}, { healthIntervalMs });
  const observer = new Observer(cw.kube);
  const lease = new LeaseTimeline(cw.kube);
  const decoy: Decoy = await startDecoy();
  const tally = new Tally();
  const runs: Run[] = [];
  const concurrent: Run[] = [];
  let current: Run | undefined;
  let pass = 0;
  const violations: string[] = [];
  const injector: Injector = new Injector({
    cw,
    rng,
    lease,
    observer,
    decoy,
    current: () => current,
    runs: () => runs,
    startConcurrent: async (command) => {
      const r = await start(`concurrent ${command}`, concurrentArgs(command, schedule, cw.helm));
      concurrent.push(r);
      return r;
    },
  });
  const ctx: CheckContext = { cw, schedule, observer, injector, lease, decoy, tally, runs, checked: new Set() };
  const start: Start = async (label, args, checker = false) => {
    const r = await startRun(label, args, {
      adminKubeconfig: cw.world.kubeconfig,
      rules: [],
      elsewhere: decoy.url,
      env: pass === 0 && !checker ? injector.env : {},
    });
    if (!checker) injector.onRunStart(r);
    runs.push(r);
    const watchdog = setTimeout(() => {
      violations.push(`${label} hung: still running after ${hungAfterMs / 1000}s`);
      kill(r, 'SIGKILL');
    }, hungAfterMs);
    r.done.then(() => clearTimeout(watchdog));
    return r;
  };
  let completed = false;
  try {
    await Promise.all([observer.start(), lease.start()]);
    let at = 0;
    let lastStatus: StatusJson | undefined;
    let lastExit: number | null | undefined;
    for (; pass < maxPasses && !completed; pass++) {
      if (pass === 0) injector.prepare(schedule.faults);
      else if (pass === 1) await injector.clear();
      // A refusal (exit 3) may rest on the operator's word, such as OdooReachable=False, which it
      // revises at its next health check: a user re-runs after that, not within the second.
      if (pass > 0 && lastExit === 3) await new Promise((r) => setTimeout(r, operatorRecheckMs));
      const steps = stepsOf(schedule, cw.helm, pass, pass === 0 ? injector.ttl : undefined);
      if (pass > 0) at = resumeAt(steps, at, lastStatus);
      for (; at < steps.length; at++) {
        const step = steps[at] as Step;
        current = await start(`${step.label} (pass ${pass + 1})`, step.args);
        // The faults' moments count from the first run's start.
        if (pass === 0 && at === 0) injector.arm();
        const run = await current.done;
        lastExit = run.exitCode;
        current = undefined;
        const others = await Promise.all(concurrent.splice(0).map((r) => r.done));
        const after = await afterRun(ctx, run, others, step, start);
        violations.push(...after.violations);
        lastStatus = after.status;
        log(`  ${describeRun(run)}`);
        for (const o of others) log(`  ${describeRun(o)}`);
        if (run.exitCode !== 0 || run.killedWith) break;
      }
      // Done only when status agrees: a reinstall (or a latecomer) may undo steps a run had done.
      completed = at >= steps.length && (!lastStatus || finished(lastStatus, schedule).length === 0);
    }
    if (!completed) violations.push(`the procedure did not complete in ${maxPasses} passes`);
    await injector.clear();
    violations.push(...(await finalChecks(ctx, completed, start)));
  } catch (err) {
    violations.push(`the campaign itself failed: ${(err as Error).stack ?? err}`);
  } finally {
    observer.stop();
    lease.stop();
    for (const r of runs) kill(r, 'SIGKILL');
    await Promise.all([cw.stop(), decoy.stop(), ...runs.map((r) => r.proxy.stop())]);
  }
  injector.settle();
  const result: ScheduleResult = {
    schedule,
    violations,
    injected: injector.injected,
    records: injector.records,
    tally,
    runs,
    completed,
    seconds: (Date.now() - started) / 1000,
  };
  return result;
}

async function statusNow(ctx: CheckContext, start: Start) {
  const before = await readFacts(ctx.cw.kube);
  const run = await (await start('status', ['status', '-o', 'json'], true)).done;
  const after = await readFacts(ctx.cw.kube);
  const out: string[] = [...checkExit(run, ctx.tally)];
  if (run.exitCode !== 0) out.push(`status exited ${run.exitCode}: ${run.stderr.trim()}`);
  if (realWrites(run).length) out.push('status wrote to the cluster');
  let status: StatusJson | undefined;
  try {
    status = JSON.parse(run.stdout) as StatusJson;
  } catch {
    out.push('status -o json printed no JSON');
  }
  if (status) out.push(...compareStatus(status, before, after, ctx.observer, ctx.tally));
  return { status, violations: out };
}

/** Every invariant that can be judged once a run (and any run beside it) has ended. */
async function afterRun(ctx: CheckContext, run: Run, others: Run[], step: Step, start: Start) {
  await new Promise((r) => setTimeout(r, settleMs));
  const out: string[] = [];
  const ended = [run, ...others];
  for (const r of ended) out.push(...checkExit(r, ctx.tally), ...checkWrites(r, ctx));
  out.push(...checkDeletions(ended, ctx), ...checkOrder(ctx, ctx.checked), ...checkDecoy(ended, ctx));
  out.push(...(await checkHandObjects(ctx)));
  out.push(
    ...checkLeaseReleased({
      timeline: ctx.lease,
      runs: ctx.runs,
      handHolders: ctx.injector.handHolders,
      tally: ctx.tally,
    }),
  );
  out.push(...ctx.observer.errors.splice(0).map((e) => `the checker's watch failed: ${e}`));
  const { status, violations } = await statusNow(ctx, start);
  out.push(...violations);
  if (ctx.injector.handEdits.some((e) => e.edit === 'reinstall' && e.at >= run.startedAt))
    out.push(...(await reportNow(ctx, start)));
  if (status && run.exitCode === 0 && !run.killedWith) {
    const edited = ctx.injector.handEdits.some((e) => e.at >= run.startedAt && edits.has(e.edit));
    const reinstalled = ctx.injector.handEdits.some((e) => e.at >= run.startedAt && e.edit === 'reinstall');
    for (const n of step.promises) {
      if ((edited && n <= 2) || (reinstalled && n >= 3)) continue;
      const s = status.steps.find((x) => x.step === n);
      if (s && s.state !== 'done')
        out.push(`${run.label} exited 0, yet step ${n} is "${s.state}": ${s.evidence.join('; ')}`);
    }
  }
  return { violations: out, status };
}

/**
 * Where a user following status would go on: the first command whose steps are not all done (a
 * hand edit, such as a new application, can undo an earlier step).
 */
function resumeAt(steps: Step[], at: number, status: StatusJson | undefined): number {
  if (!status) return at;
  const done = (n: number) => ['done', 'skipped'].includes(status.steps.find((x) => x.step === n)?.state ?? 'done');
  const first = steps.findIndex((st) => !st.promises.every(done));
  return first < 0 ? at : Math.min(at, first);
}

/** The steps status does not call finished, as the schedule asked for them (none: the procedure is complete). */
function finished(status: StatusJson, s: Schedule): string[] {
  const out: string[] = [];
  for (const step of status.steps) {
    const fine =
      step.state === 'done' ||
      (step.step === 2 && (s.skipBackup || step.state === 'skipped')) ||
      (step.step === 4 && !s.deleteApps);
    if (!fine) out.push(`step ${step.step} is "${step.state}": ${step.evidence.join('; ')}`);
  }
  return out;
}

/** `purge --report -o json` held against the cluster, Odoo's record and the step 3 record. */
async function reportNow(ctx: CheckContext, start: Start): Promise<string[]> {
  const report = await (await start('report', ['purge', '--report', '-o', 'json'], true)).done;
  const out = [...checkExit(report, ctx.tally)];
  if (report.exitCode !== 0) out.push(`purge --report exited ${report.exitCode}: ${report.stderr.trim()}`);
  try {
    const persists = (JSON.parse(report.stdout) as { persists: PersistsJson }).persists;
    const facts = await readFacts(ctx.cw.kube);
    const record = await ctx.cw.kube.find(
      { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true },
      'kubectl-vw-decommission',
      'kube-system',
    );
    out.push(...checkPersists(persists, facts, ctx.cw.world.odoo.decommissioned(), ctx.tally, record));
  } catch (err) {
    out.push(`purge --report -o json: ${(err as Error).message}`);
  }
  return out;
}

async function finalChecks(ctx: CheckContext, completed: boolean, start: Start): Promise<string[]> {
  const { tally } = ctx;
  const out = [...checkOverlap(ctx.runs, tally)];
  tally.count('duplicates', ctx.observer.finalBackupsCreated.length);
  out.push(...ctx.observer.duplicates.map((d) => `duplicate backup: ${d}`));
  out.push(...checkLockSafety({ timeline: ctx.lease, runs: ctx.runs, handHolders: ctx.injector.handHolders, tally }));
  if (!completed) return out;
  const { status, violations } = await statusNow(ctx, start);
  out.push(...violations);
  if (status) out.push(...finished(status, ctx.schedule).map((n) => `at the end, ${n}`));
  out.push(...(await reportNow(ctx, start)));
  return out;
}
