import { ioReporter, warnEach } from '../../lib/cli/io';
import { fakeClock, realClock, testDeps, text } from '../helpers/test-deps';

// Narration on stderr, as the README promises: progress only on a terminal; off one, at most a
// plain heartbeat while waiting; many warnings of one kind summarised, every one with -v.

describe('progress off a terminal', () => {
  it('writes no bars and no throttled progress lines', () => {
    const t = testDeps({ stderrTTY: false });
    const clock = fakeClock();
    const report = ioReporter(t.deps.io, clock);
    for (let i = 0; i < 50; i++) {
      report.progress(`[${'#'.repeat(i % 24)}] ${i}/50  Pending 1  Running 2`);
      clock.advance(6_000);
    }
    report.done();
    expect(text(t.out.stderr)).toBe('');
  });

  it('says "still waiting" at most once per heartbeat while waiting, and stops with done()', async () => {
    const t = testDeps({ stderrTTY: false });
    const report = ioReporter(t.deps.io, realClock, { heartbeatMs: 40 });
    report.waiting(() => '3 of 12 backups running, slowest odoo-7 4m10s');
    await new Promise((r) => setTimeout(r, 150));
    report.done();
    const lines = text(t.out.stderr).trimEnd().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.length).toBeLessThanOrEqual(4);
    expect(lines.every((l) => l === 'still waiting: 3 of 12 backups running, slowest odoo-7 4m10s')).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(text(t.out.stderr).trimEnd().split('\n')).toHaveLength(lines.length);
  });

  it('the heartbeat is every 30 s by default, and never on a terminal (progress redraws there)', async () => {
    const off = testDeps({ stderrTTY: false });
    const r1 = ioReporter(off.deps.io, realClock);
    r1.waiting(() => 'x');
    await new Promise((r) => setTimeout(r, 50));
    r1.done();
    expect(text(off.out.stderr)).toBe('');
    const on = testDeps({ stderrTTY: true });
    const r2 = ioReporter(on.deps.io, realClock, { heartbeatMs: 10 });
    r2.waiting(() => 'x');
    await new Promise((r) => setTimeout(r, 50));
    r2.done();
    expect(text(on.out.stderr)).not.toMatch(/still waiting/);
  });
});

describe('warnings at scale', () => {
  const many = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ subject: `shop/app-${i}`, text: `shop/app-${i} is not paused` }));
  const about = (n: number) => `${n} applications are not paused`;

  it('a few are each said in full', () => {
    const t = testDeps();
    warnEach(t.deps.io, many(3), about);
    expect(text(t.out.stderr).trimEnd().split('\n')).toEqual([
      'warning: shop/app-0 is not paused',
      'warning: shop/app-1 is not paused',
      'warning: shop/app-2 is not paused',
    ]);
  });

  it('2,000 are one line: the count, the first few names, and how to see all', () => {
    const t = testDeps();
    warnEach(t.deps.io, many(2000), about);
    const lines = text(t.out.stderr).trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^warning: 2000 applications are not paused: shop\/app-0, shop\/app-1, shop\/app-2, \.\.\./,
    );
    expect(lines[0]).toMatch(/-v/);
  });

  it('-v says every one', () => {
    const t = testDeps({ verbose: true });
    warnEach(t.deps.io, many(2000), about);
    expect(text(t.out.stderr).trimEnd().split('\n')).toHaveLength(2000);
  });

  it('as they come: the first few, then a count when the phase is done', () => {
    const t = testDeps();
    const report = ioReporter(t.deps.io, fakeClock());
    for (let i = 0; i < 500; i++) report.warnEach('objects failed', `failed: ApplicationInstance shop/app-${i}: 500`);
    report.done();
    const lines = text(t.out.stderr).trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatch(/^warning: 497 more objects failed .*-v/);
  });
});
