import { concurrentArgs, type Step, stepsOf } from './commands';
import { readFacts } from './facts';
import { Injector } from './faults';
import {
  type CheckContext,
  checkDeletions,
  checkExit,
  checkHandObjects,
  checkLease,
  checkOverlap,
  checkPersists,
  checkWrites,
  type PersistsJson,
} from './invariants';
import { Observer } from './observer';
import type { Rng } from './random';
import { describeRun, kill, type Run, realWrites, startRun } from './runs';
import type { Schedule } from './schedule';
import { compareStatus, type StatusJson } from './status-check';
import { startChaosWorld } from './world';

// One schedule, start to end: a fresh world, the procedure run as a user would (re-run with the
// faults cleared after each failure, up to a bound), and the invariants after every run.

const maxPasses = 5;
/** A run still going after this has hung: longer than every step's --timeout together. */
const hungAfterMs = 6 * 60_000;
const settleMs = 1_000;
/** The simulated operator's health-check interval (10 s), and a second more. */
const operatorRecheckMs = 11_000;
const edits = new Set(['new-application', 'delete-velero-backup', 'delete-application']);

export interface ScheduleResult {
  schedule: Schedule;
  violations: string[];
  injected: number;
  runs: Run[];
  completed: boolean;
  seconds: number;
}

export async function runSchedule(schedule: Schedule, rng: Rng, apps: number, log: (l: string) => void) {
  const started = Date.now();
  const cw = await startChaosWorld(apps, () => {});
  const observer = new Observer(cw.kube);
  const runs: Run[] = [];
  const concurrent: Run[] = [];
  let current: Run | undefined;
  const violations: string[] = [];
  const injector: Injector = new Injector({
    cw,
    rng,
    current: () => current,
    startConcurrent: async (command) => {
      const r = await start(`concurrent ${command}`, concurrentArgs(command, schedule, cw.helm));
      concurrent.push(r);
    },
  });
  const ctx: CheckContext = { cw, schedule, observer, injector, runs };
  const start = async (label: string, args: string[]) => {
    const r = await startRun(label, args, { adminKubeconfig: cw.world.kubeconfig, rules: [...injector.rules] });
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
    await observer.start();
    let at = 0;
    let lastStatus: StatusJson | undefined;
    let lastExit: number | null | undefined;
    for (let pass = 0; pass < maxPasses && !completed; pass++) {
      if (pass === 0) injector.arm(schedule.faults);
      else if (pass === 1) await injector.clear();
      // A refusal (exit 3) may rest on the operator's word, such as OdooReachable=False, which it
      // revises at its next health check: a user re-runs after that, not within the second.
      if (pass > 0 && lastExit === 3) await new Promise((r) => setTimeout(r, operatorRecheckMs));
      const steps = stepsOf(schedule, cw.helm, pass);
      if (pass > 0) at = resumeAt(steps, at, lastStatus);
      for (; at < steps.length; at++) {
        const step = steps[at] as Step;
        current = await start(`${step.label} (pass ${pass + 1})`, step.args);
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
      completed = at >= steps.length;
    }
    if (!completed) violations.push(`the procedure did not complete in ${maxPasses} passes`);
    await injector.clear();
    violations.push(...(await finalChecks(ctx, runs, completed, start)));
  } catch (err) {
    violations.push(`the campaign itself failed: ${(err as Error).stack ?? err}`);
  } finally {
    observer.stop();
    for (const r of runs) kill(r, 'SIGKILL');
    await cw.stop();
  }
  const result: ScheduleResult = {
    schedule,
    violations,
    injected: injector.injected,
    runs,
    completed,
    seconds: (Date.now() - started) / 1000,
  };
  return result;
}

type Start = (label: string, args: string[]) => Promise<Run>;

async function statusNow(ctx: CheckContext, start: Start) {
  const before = await readFacts(ctx.cw.kube);
  const run = await (await start('status', ['status', '-o', 'json'])).done;
  const after = await readFacts(ctx.cw.kube);
  const out: string[] = [...checkExit(run)];
  if (run.exitCode !== 0) out.push(`status exited ${run.exitCode}: ${run.stderr.trim()}`);
  if (realWrites(run).length) out.push('status wrote to the cluster');
  let status: StatusJson | undefined;
  try {
    status = JSON.parse(run.stdout) as StatusJson;
  } catch {
    out.push('status -o json printed no JSON');
  }
  if (status) out.push(...compareStatus(status, before, after, ctx.observer));
  return { status, violations: out };
}

async function afterRun(ctx: CheckContext, run: Run, others: Run[], step: Step, start: Start) {
  await new Promise((r) => setTimeout(r, settleMs));
  const out: string[] = [];
  for (const r of [run, ...others]) out.push(...checkExit(r), ...checkWrites(r, ctx), ...checkDeletions(r, ctx));
  out.push(...(await checkHandObjects(ctx)), ...(await checkLease(ctx, [run, ...others], ctx.runs)));
  const { status, violations } = await statusNow(ctx, start);
  out.push(...violations);
  if (status && run.exitCode === 0 && !run.killedWith) {
    const edited = ctx.injector.handEdits.some((e) => e.at >= run.startedAt && edits.has(e.edit));
    for (const n of step.promises) {
      if (edited && n <= 2) continue;
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

async function finalChecks(ctx: CheckContext, runs: Run[], completed: boolean, start: Start): Promise<string[]> {
  const out = [...checkOverlap(runs), ...ctx.observer.duplicates.map((d) => `duplicate backup: ${d}`)];
  if (!completed) return out;
  const { status, violations } = await statusNow(ctx, start);
  out.push(...violations);
  const s = ctx.schedule;
  for (const step of status?.steps ?? []) {
    const fine =
      step.state === 'done' ||
      (step.step === 2 && (s.skipBackup || step.state === 'skipped')) ||
      (step.step === 4 && !s.deleteApps);
    if (!fine) out.push(`at the end, step ${step.step} is "${step.state}": ${step.evidence.join('; ')}`);
  }
  const report = await (await start('report', ['purge', '--report', '-o', 'json'])).done;
  out.push(...checkExit(report));
  if (report.exitCode !== 0) out.push(`purge --report exited ${report.exitCode}: ${report.stderr.trim()}`);
  try {
    const persists = (JSON.parse(report.stdout) as { persists: PersistsJson }).persists;
    const facts = await readFacts(ctx.cw.kube);
    const record = await ctx.cw.kube.find(
      { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true },
      'kubectl-vw-decommission',
      'kube-system',
    );
    out.push(...checkPersists(persists, facts, ctx.cw.world.odoo.decommissioned(), record));
  } catch (err) {
    out.push(`purge --report -o json: ${(err as Error).message}`);
  }
  return out;
}
