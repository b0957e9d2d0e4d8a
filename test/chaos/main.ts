import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { newWorld, runSchedule, type ScheduleResult } from './campaign';
import { chosenSchedules } from './ci-schedules';
import { rngFor } from './random';
import { describeRun } from './runs';
import { describeFault, drawSchedule, type FaultKind, faultKinds, type Schedule } from './schedule';
import { invariants, Tally } from './tally';

// `npm run chaos -- --runs N --seed S [--apps A] [--only K]`: N schedules of random faults drawn
// from the seed, each on a fresh world, with the invariants checked after every run. The last
// line is `chaos: N runs, F faults injected, V violations`; the exit code is 1 when V > 0.
// --parallel P runs P schedules at once (each has its own control plane); --minutes M starts no
// new schedule after M minutes, for a long campaign in a bounded time. --ci runs the chosen
// schedules of the test suite instead of drawing them (they cover every fault kind).
// The summary prints, per invariant, how many cases it examined, and per fault kind how often it
// was scheduled, injected, and hit (injected while a run was at work, and met by it).

const usage =
  'usage: npm run chaos -- [--runs N] [--seed S] [--ci] [--apps A] [--only K] [--from K] [--parallel P] [--minutes M] [--verbose] [--show-runs]';

function count(name: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`invalid --${name} "${text}": an integer >= ${min}\n${usage}\n`);
    process.exit(2);
  }
  return n;
}

function report(r: ScheduleResult) {
  const s = r.schedule;
  const lines = [
    `${r.violations.length ? 'VIOLATION' : 'RUNS'} in schedule ${s.index} of seed ${s.seed}: replay with npm run chaos -- ${s.seed === 'chosen' ? '--ci' : `--seed ${s.seed}`} --only ${s.index}`,
    `  schedule: ${JSON.stringify({ ...s, faults: undefined })}`,
    ...s.faults.map((f) => `  fault: ${describeFault(f)}`),
    ...r.violations.map((v) => `  violated: ${v}`),
  ];
  for (const run of r.runs) {
    lines.push(`  --- ${describeRun(run)}`);
    if (run.stdout.trim())
      lines.push(
        ...run.stdout
          .trimEnd()
          .split('\n')
          .map((l) => `    out| ${l}`),
      );
    if (run.stderr.trim())
      lines.push(
        ...run.stderr
          .trimEnd()
          .split('\n')
          .map((l) => `    err| ${l}`),
      );
    // The lock's requests, as its proxy saw them: what a lock violation is read from.
    for (const q of run.proxy.requests.filter((x) => x.path.includes('/leases')))
      lines.push(
        `    lock| +${((q.time.getTime() - run.startedAt) / 1000).toFixed(2)}s ${q.method} ${q.path} -> ${q.status ?? q.outcome}${q.rule ? ` (fault rule ${q.rule})` : ''}`,
      );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

interface Hits {
  scheduled: number;
  injected: number;
  hit: number;
}

/** Per fault kind: scheduled, injected, hit; the lines the campaign ends with. */
function kindTable(hits: Map<FaultKind, Hits>): string[] {
  const rows = faultKinds.map((k) => {
    const h = hits.get(k) ?? { scheduled: 0, injected: 0, hit: 0 };
    return `  ${k.padEnd(18)} ${String(h.scheduled).padStart(9)} ${String(h.injected).padStart(8)} ${String(h.hit).padStart(5)}`;
  });
  return [`chaos: fault kind × hit\n  ${'kind'.padEnd(18)} scheduled injected   hit`, ...rows];
}

function invariantTable(tally: Tally): string[] {
  return [
    'chaos: cases checked per invariant',
    ...invariants.map(
      (i) => `  ${i.padEnd(18)} ${String(tally.get(i)).padStart(7)}${tally.get(i) ? '' : '  (never exercised)'}`,
    ),
  ];
}

function record(hits: Map<FaultKind, Hits>, r: ScheduleResult) {
  for (const rec of r.records) {
    const h = hits.get(rec.fault.kind) ?? { scheduled: 0, injected: 0, hit: 0 };
    h.scheduled++;
    if (rec.injected) h.injected++;
    if (rec.hit) h.hit++;
    hits.set(rec.fault.kind, h);
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string' },
      seed: { type: 'string' },
      apps: { type: 'string' },
      only: { type: 'string' },
      from: { type: 'string' },
      verbose: { type: 'boolean', short: 'v' },
      'show-runs': { type: 'boolean' },
      parallel: { type: 'string' },
      minutes: { type: 'string' },
      ci: { type: 'boolean' },
      'no-prefetch': { type: 'boolean' },
    },
  });
  const chosen = values.ci ? chosenSchedules() : undefined;
  const runs = chosen ? chosen.length : count('runs', values.runs, 15, 1);
  const apps = count('apps', values.apps, 6, 1);
  const seed = chosen ? 'chosen' : (values.seed ?? randomBytes(4).toString('hex'));
  const only = values.only === undefined ? undefined : count('only', values.only, 0, 0);
  const from = count('from', values.from, 0, 0);
  const indexes = only === undefined ? Array.from({ length: runs }, (_, i) => from + i) : [only];
  const log = (l: string) => process.stdout.write(`${l}\n`);
  log(`chaos: seed ${seed}, ${indexes.length} schedule(s), ${apps} applications each`);
  const parallel = count('parallel', values.parallel, 1, 1);
  const deadline =
    values.minutes === undefined ? Infinity : Date.now() + count('minutes', values.minutes, 0, 1) * 60_000;
  let injected = 0;
  let violations = 0;
  const tally = new Tally();
  const hits = new Map<FaultKind, Hits>();
  let done = 0;
  const started = Date.now();
  const queue = [...indexes];
  const stops: Promise<unknown>[] = [];
  const one = async (i: number, world: ReturnType<typeof newWorld>) => {
    const rng = rngFor(seed, i);
    const schedule: Schedule = chosen?.[i] ?? drawSchedule(rng, seed, i);
    log(
      `schedule ${i}: ${schedule.mode}${schedule.deleteApps ? ' delete-apps' : ''}${schedule.wipe ? ' wipe' : ''}${schedule.suspendHelmReleases ? ' suspend-helmreleases' : ''}${schedule.skipBackup ? ' skip-backup' : ''}; ${schedule.faults.map(describeFault).join(', ')}`,
    );
    const r = await runSchedule(schedule, rng, world, values.verbose ? log : () => {});
    stops.push(r.stopped);
    injected += r.injected;
    violations += r.violations.length;
    tally.add(r.tally);
    record(hits, r);
    done++;
    log(
      `schedule ${i}: ${r.violations.length ? `${r.violations.length} violation(s)` : 'ok'}, ${r.injected} fault(s) injected, ${r.records.filter((x) => x.hit).length} hit, ${r.runs.length} runs, ${r.seconds.toFixed(0)}s`,
    );
    if (r.violations.length || values['show-runs']) report(r);
  };
  // Each worker starts its next world as a schedule begins: it comes up while the runs wait.
  const worker = async () => {
    let next: ReturnType<typeof newWorld> | undefined;
    for (let i = queue.shift(); i !== undefined && Date.now() < deadline; i = queue.shift()) {
      const world = next ?? newWorld(apps);
      next = queue.length && Date.now() < deadline && !values['no-prefetch'] ? newWorld(apps) : undefined;
      await one(i, world);
    }
    if (next) stops.push(next.then((w) => w.stop()).catch(() => undefined));
  };
  await Promise.all(Array.from({ length: Math.min(parallel, indexes.length) }, worker));
  await Promise.all(stops);
  for (const l of [...invariantTable(tally), ...kindTable(hits)]) log(l);
  log(`chaos: seed ${seed}, ${((Date.now() - started) / 60_000).toFixed(1)} min`);
  log(`chaos: ${done} runs, ${injected} faults injected, ${violations} violations`);
  // Exit now: a world's leftover handle (a watch, a socket) must not keep the campaign alive.
  process.exit(violations ? 1 : 0);
}

main().catch((err) => {
  process.stderr.write(`chaos: ${(err as Error).stack ?? err}\n`);
  process.exit(2);
});
