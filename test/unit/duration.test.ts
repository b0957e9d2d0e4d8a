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
