import { readFileSync } from 'node:fs';
import { formatDuration, parseGoDuration, parseRequestTimeout, requirePositiveDuration } from '../../lib/duration';
import { ExitCode, UsageError } from '../../lib/errors';
import { validateTtl } from '../../lib/steps/backup/plan';

describe('Go durations', () => {
  it.each([
    ['8760h', 8760 * 3_600_000],
    ['720h30m', 720 * 3_600_000 + 30 * 60_000],
    ['1.5h', 5_400_000],
    ['90s', 90_000],
    ['250ms', 250],
  ])('parses %s', (text, ms) => {
    expect(parseGoDuration(text)).toBe(ms);
  });

  it.each(['1y', '-5h', '0', '', 'garbage', '5', 'h', '10d', '1h 30m'])(
    'rejects TTL %p with the valid forms',
    (text) => {
      expect(() => validateTtl(text)).toThrow(UsageError);
      try {
        validateTtl(text);
      } catch (err) {
        expect((err as UsageError).exitCode).toBe(ExitCode.usage);
        expect((err as Error).message).toContain('8760h');
      }
    },
  );

  it('rejects a zero duration as a timeout', () => {
    expect(() => requirePositiveDuration('--timeout', '0s')).toThrow(/positive Go duration/);
  });

  it('reads --request-timeout as kubectl does', () => {
    expect(parseRequestTimeout('0')).toBe(0);
    expect(parseRequestTimeout('30')).toBe(30_000);
    expect(parseRequestTimeout('1m')).toBe(60_000);
    expect(() => parseRequestTimeout('soon')).toThrow(UsageError);
  });

  it('formats elapsed times briefly', () => {
    expect(formatDuration(5_000)).toBe('5s');
    expect(formatDuration(125_000)).toBe('2m5s');
    expect(formatDuration(3 * 3_600_000)).toBe('3h');
  });
});

describe("exactly Go's time.ParseDuration", () => {
  it.each([
    ['+8760h', 8760 * 3_600_000],
    ['.5h', 1_800_000],
    ['1.h', 3_600_000],
    ['1µs', 0.001],
    ['1μs', 0.001],
    ['1us', 0.001],
    ['1h0m0s', 3_600_000],
    ['2562047h', 2562047 * 3_600_000],
    ['1.5m', 90_000],
    ['0', 0],
  ])('accepts %s', (text, ms) => {
    expect(parseGoDuration(text)).toBeCloseTo(ms, 6);
  });

  it.each(['2562048h', '9223372036854775808ns', '.h', '-.s', '1', '1hh', '1 h', 'h1', '', '+', '1.2.3s', '1d'])(
    'refuses %p',
    (text) => {
      expect(parseGoDuration(text)).toBeUndefined();
    },
  );

  it('a TTL above the longest Go duration, or shorter than the margin, is refused', () => {
    expect(() => validateTtl('2562048h')).toThrow(/invalid --ttl/);
    expect(() => validateTtl('12h')).toThrow(/shorter than the final-backup expiry margin/);
    expect(validateTtl('12h', { allowShort: true })).toBe(12 * 3_600_000);
  });
});

describe("TTLs: exactly what the Operation CRD's pattern accepts, nothing wider", () => {
  const crd = readFileSync(new URL('../../crds/operator/ops.vworkspace.io_operations.yaml', import.meta.url), 'utf8');
  const pattern = new RegExp(/ttl:[\s\S]*?pattern: (\S+)/.exec(crd)?.[1] ?? 'no pattern in the CRD', 'u');

  it.each(['+8760h', '.5h', '1.h', '8760h.5m', '-1h', '0', '1h 30m', '8760H', '1d'])(
    'refuses %p in one line (exit 2), as the CRD would',
    (text) => {
      expect(pattern.test(text)).toBe(false);
      const check = () => validateTtl(text, { allowShort: true });
      expect(check).toThrow(UsageError);
      try {
        check();
      } catch (err) {
        expect((err as UsageError).exitCode).toBe(ExitCode.usage);
        expect((err as Error).message).toMatch(/^invalid --ttl/);
        expect((err as Error).message).not.toContain('\n');
      }
    },
  );

  it.each(['8760h', '720h30m', '1.5h', '8760h0m0s', '90m', '1000000000ns', '1µs', '1μs', '1us', '26280h'])(
    'accepts %p, as the CRD does',
    (text) => {
      expect(pattern.test(text)).toBe(true);
      expect(validateTtl(text, { allowShort: true })).toBeGreaterThan(0);
    },
  );
});
