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
import { describeFault, type Schedule } from './schedule';
import { compareStatus, type StatusJson } from './status-check';
import { Tally } from './tally';
import { type ChaosWorld, startChaosWorld } from './world';

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

/** One schedule on its world: the runs, the faults, the checks, what was seen. */
class ScheduleRun {
  readonly violations: string[] = [];
  readonly runs: Run[] = [];
  readonly tally = new Tally();
  readonly observer: Observer;
  readonly lease: LeaseTimeline;
  readonly injector: Injector;
  readonly ctx: CheckContext;
  private readonly concurrent: Run[] = [];
  private current: Run | undefined;
  private pass = 0;
  checkingMs = 0;

  constructor(
    readonly schedule: Schedule,
    rng: Rng,
    readonly cw: ChaosWorld,
    readonly decoy: Decoy,
    private readonly log: (l: string) => void,
  ) {
    this.observer = new Observer(cw.kube);
    this.lease = new LeaseTimeline(cw.kube);
    this.injector = new Injector({
      cw,
      rng,
      lease: this.lease,
      observer: this.observer,
      decoy,
      current: () => this.current,
      runs: () => this.runs,
      startConcurrent: async (command) => {
        const r = await this.start(`concurrent ${command}`, concurrentArgs(command, schedule, cw.helm));
        this.concurrent.push(r);
        return r;
      },
    });
    const { observer, injector, lease, tally, runs } = this;
    this.ctx = { cw, schedule, observer, injector, lease, decoy, tally, runs, checked: new Set() };
  }

  readonly start: Start = async (label, args, checker = false) => {
    const r = await startRun(label, args, {
      adminKubeconfig: this.cw.world.kubeconfig,
      rules: [],
      elsewhere: this.decoy.url,
      env: this.pass === 0 && !checker ? this.injector.env : {},
    });
    if (!checker) this.injector.onRunStart(r);
    this.runs.push(r);
    const watchdog = setTimeout(() => {
      this.violations.push(`${label} hung: still running after ${hungAfterMs / 1000}s`);
      kill(r, 'SIGKILL');
    }, hungAfterMs);
    r.done.then(() => clearTimeout(watchdog));
    return r;
  };

  /** One command of a pass, and the checks after it; false when it failed (the pass stops there). */
  private async step(step: Step, first: boolean): Promise<{ ok: boolean; status?: StatusJson; exit?: number | null }> {
    this.current = await this.start(`${step.label} (pass ${this.pass + 1})`, step.args);
    // The faults' moments count from the first run's start.
    if (first) this.injector.arm();
    const run = await this.current.done;
    this.current = undefined;
    const others = await Promise.all(this.concurrent.splice(0).map((r) => r.done));
    const t = Date.now();
    const after = await afterRun(this.ctx, run, others, step, this.start);
    this.checkingMs += Date.now() - t;
    this.violations.push(...after.violations);
    this.log(`  ${describeRun(run)}`);
    for (const o of others) this.log(`  ${describeRun(o)}`);
    return { ok: run.exitCode === 0 && !run.killedWith, status: after.status, exit: run.exitCode };
  }

  /** The procedure as a user runs it: again after each failure, from where status says, faults cleared. */
  async passes(): Promise<boolean> {
    let at = 0;
    let lastStatus: StatusJson | undefined;
    let lastExit: number | null | undefined;
    let completed = false;
    for (this.pass = 0; this.pass < maxPasses && !completed; this.pass++) {
      if (this.pass === 0) this.injector.prepare(this.schedule.faults);
      else if (this.pass === 1) await this.injector.clear();
      // A refusal (exit 3) may rest on the operator's word, such as OdooReachable=False, which it
      // revises at its next health check: a user re-runs after that, not within the second.
      if (this.pass > 0 && lastExit === 3) await new Promise((r) => setTimeout(r, operatorRecheckMs));
      const steps = stepsOf(this.schedule, this.cw.helm, this.pass, this.pass === 0 ? this.injector.ttl : undefined);
      if (this.pass > 0) at = resumeAt(steps, at, lastStatus);
      for (; at < steps.length; at++) {
        const r = await this.step(steps[at] as Step, this.pass === 0 && at === 0);
        lastStatus = r.status ?? lastStatus;
        lastExit = r.exit;
        if (!r.ok) break;
      }
      // Done only when status agrees: a reinstall (or a latecomer) may undo steps a run had done.
      completed = at >= steps.length && (!lastStatus || finished(lastStatus, this.schedule).length === 0);
    }
    if (!completed) this.violations.push(`the procedure did not complete in ${maxPasses} passes`);
    return completed;
  }

  async finish(completed: boolean) {
    await this.injector.clear();
    const t = Date.now();
    this.violations.push(...(await finalChecks(this.ctx, completed, this.start)));
    this.checkingMs += Date.now() - t;
  }

  /** Everything of the schedule's stopped; the world too, in the background (`stopped` resolves then). */
  teardown(): Promise<unknown> {
    this.observer.stop();
    this.lease.stop();
    for (const r of this.runs) kill(r, 'SIGKILL');
    return Promise.all([this.cw.stop(), this.decoy.stop(), ...this.runs.map((r) => r.proxy.stop())]);
  }
}

/**
 * One schedule on the world given (started beforehand, so that the next world comes up while this
 * one's runs wait on the operator). `stopped` resolves once its world is down.
 */
export async function runSchedule(
  schedule: Schedule,
  rng: Rng,
  world: Promise<ChaosWorld>,
  log: (l: string) => void,
): Promise<ScheduleResult & { stopped: Promise<unknown> }> {
  const started = Date.now();
  const [cw, decoy] = await Promise.all([world, startDecoy()]);
  const worldReady = Date.now();
  const s = new ScheduleRun(schedule, rng, cw, decoy, log);
  let completed = false;
  try {
    await Promise.all([s.observer.start(), s.lease.start()]);
    completed = await s.passes();
    await s.finish(completed);
  } catch (err) {
    s.violations.push(`the campaign itself failed: ${(err as Error).stack ?? err}`);
  }
  log(
    `  world ready after ${((worldReady - started) / 1000).toFixed(1)}s, runs and checks ${((Date.now() - worldReady) / 1000).toFixed(1)}s (checks ${(s.checkingMs / 1000).toFixed(1)}s)`,
  );
  const stopped = s.teardown();
  s.injector.settle();
  for (const r of s.injector.records)
    log(`  ${describeFault(r.fault)}: ${r.hit ? 'hit' : r.injected ? 'injected, not met by a run' : 'not injected'}`);
  return {
    schedule,
    violations: s.violations,
    injected: s.injector.injected,
    records: s.injector.records,
    tally: s.tally,
    runs: s.runs,
    completed,
    seconds: (Date.now() - started) / 1000,
    stopped,
  };
}

/** A world for a schedule: started now, used when its turn comes. */
export const newWorld = (apps: number) => startChaosWorld(apps, () => {}, { healthIntervalMs });

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
    const { odoo } = ctx.cw.world;
    out.push(...checkPersists(persists, facts, odoo.decommissioned(), ctx.tally, record, ctx.observer.lastClusterId));
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
