import { execa } from 'execa';
import { faultKinds } from '../chaos/schedule';
import { invariants } from '../chaos/tally';
import { repoRoot } from '../helpers/plugins';

// The fault campaign's short run, part of the README's test command: the chosen schedules
// (test/chaos/ci-schedules.ts), two at a time, each on a world of its own. They are chosen so that
// every fault kind is met while a run is at work: the campaign's kind × hit table says so, and
// this test holds it to that, kind by kind, and holds every invariant to having examined cases.
// A failure replays with `npm run chaos -- --ci --only K`.

/** The table's rows: `  kind  scheduled injected hit`. */
function table(stdout: string, title: string): Map<string, number[]> {
  const lines = stdout.split('\n');
  const from = lines.findIndex((l) => l.startsWith(title));
  const rows = new Map<string, number[]>();
  for (const l of lines.slice(from + 1)) {
    const m = /^ {2}([a-z-]+)\s+(\d+)(?:\s+(\d+)\s+(\d+))?/.exec(l);
    if (!m) {
      if (rows.size) break;
      continue;
    }
    rows.set(m[1] as string, [m[2], m[3], m[4]].filter((x) => x !== undefined).map(Number));
  }
  return rows;
}

describe('the fault campaign (npm run chaos)', () => {
  it('the chosen schedules meet every fault kind while a run is at work, and no invariant is violated', async () => {
    const r = await execa(
      process.execPath,
      ['--import', './test/support/ts-loader.mjs', 'test/chaos/main.ts', '--ci', '--parallel', '2'],
      { cwd: repoRoot, reject: false, env: { VW_SIM_LOG: '0' } },
    );
    // On failure the whole report is the message: the schedule, violations, every run's output.
    if (r.exitCode !== 0) throw new Error(`chaos exited ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toMatch(/^chaos: \d+ runs, \d+ faults injected, 0 violations$/);
    const hits = table(r.stdout, 'chaos: fault kind × hit');
    const unmet = faultKinds.filter((k) => !((hits.get(k)?.[2] ?? 0) > 0));
    expect(unmet).toEqual([]);
    const checked = table(r.stdout, 'chaos: cases checked per invariant');
    const idle = invariants.filter((i) => !((checked.get(i)?.[0] ?? 0) > 0));
    expect(idle).toEqual([]);
  }, 1_800_000);
});
