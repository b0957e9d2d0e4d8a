import { execa } from 'execa';
import { repoRoot } from '../helpers/plugins';

// The fault campaign's short run, part of the README's test command: 15 schedules from a fixed
// seed (so a failure replays with `npm run chaos -- --seed ci --only K`), two at a time. Each
// schedule has a world of its own; the campaign prints every violation with the runs' output.

const schedules = process.env.VW_CHAOS_RUNS ?? '15';

describe('the fault campaign (npm run chaos)', () => {
  it(`${schedules} randomly interrupted uninstalls leave no invariant violated`, async () => {
    const r = await execa(
      process.execPath,
      [
        '--import',
        './test/support/ts-loader.mjs',
        'test/chaos/main.ts',
        '--runs',
        schedules,
        '--seed',
        'ci',
        '--parallel',
        '2',
      ],
      { cwd: repoRoot, reject: false, env: { VW_SIM_LOG: '0' } },
    );
    const last = r.stdout.trimEnd().split('\n').at(-1);
    // On failure the whole report is the message: seed, schedule, violations, every run's output.
    if (r.exitCode !== 0) throw new Error(`chaos exited ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
    expect(last).toMatch(new RegExp(`^chaos: ${schedules} runs, \\d+ faults injected, 0 violations$`));
    expect(Number(last?.match(/(\d+) faults injected/)?.[1])).toBeGreaterThan(0);
  }, 1_800_000);
});
