import { UsageError } from './errors';

// Go's time.ParseDuration, exactly, which Velero and the operator use for TTLs:
// [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+ with units ns, us, µs, μs, ms, s, m, h, or "0"; int64 nanoseconds.
const unitNanos: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n, // U+00B5 micro sign
  μs: 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const maxNanos = 2n ** 63n - 1n;

export const durationExamples = '8760h, 720h30m, 90m, 45s';

/** One number-and-unit of a duration; the rest of the text after it, or undefined when malformed. */
function component(s: string): { nanos: bigint; rest: string } | undefined {
  const m = /^([0-9]*)(?:\.([0-9]*))?/.exec(s);
  const whole = m?.[1] ?? '';
  const frac = m?.[2];
  if (!whole && !frac) return undefined; // no digits at all: ".s"
  const afterNumber = s.slice(m?.[0].length ?? 0);
  const unit = /^[^0-9.]*/.exec(afterNumber)?.[0] ?? '';
  const scale = unitNanos[unit];
  if (!unit || scale === undefined) return undefined;
  // Go adds the fraction as float64(f) * (unit / 10^digits), truncated.
  const fraction = frac ? BigInt(Math.trunc(Number(frac) * (Number(scale) / 10 ** frac.length))) : 0n;
  return { nanos: BigInt(whole || '0') * scale + fraction, rest: afterNumber.slice(unit.length) };
}

/** Go's time.ParseDuration: the duration in nanoseconds, or undefined when Go would refuse it. */
export function goDurationNanos(text: string): bigint | undefined {
  let s = text;
  let negative = false;
  if (s[0] === '-' || s[0] === '+') {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (!s) return undefined;
  let total = 0n;
  while (s) {
    if (!/^[0-9.]/.test(s)) return undefined;
    const c = component(s);
    if (!c) return undefined;
    total += c.nanos;
    if (total > maxNanos + (negative ? 1n : 0n)) return undefined; // overflows int64
    s = c.rest;
  }
  return negative ? -total : total;
}

/** Parses a Go duration into milliseconds; undefined when it is not one. */
export function parseGoDuration(text: string): number | undefined {
  const nanos = goDurationNanos(text);
  return nanos === undefined ? undefined : Number(nanos) / 1e6;
}

/** A strictly positive Go duration (TTLs, timeouts), or a UsageError that shows valid forms. */
export function requirePositiveDuration(flag: string, text: string): number {
  const ms = parseGoDuration(text);
  if (ms === undefined || ms <= 0) {
    throw new UsageError(
      `invalid ${flag} "${text}": expected a positive Go duration such as ${durationExamples}`,
      'units are h, m, s, ms; days and years are not units (use 8760h for a year)',
    );
  }
  return ms;
}

/** kubectl's --request-timeout accepts a bare number of seconds, a duration, or 0 for none. */
export function parseRequestTimeout(text: string): number {
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const ms = parseGoDuration(text);
  if (ms === undefined) {
    throw new UsageError(`invalid --request-timeout "${text}": expected seconds or a duration such as 30s, 1m`);
  }
  return ms;
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  const h = Math.floor(s / 3600);
  if (h < 48) return `${h}h${Math.floor((s % 3600) / 60) ? `${Math.floor((s % 3600) / 60)}m` : ''}`;
  return `${Math.floor(h / 24)}d`;
}

/** Milliseconds as a Go duration that parses back to the same value: 86400000 is "24h", 5400000 "1h30m". */
export function goDurationText(ms: number): string {
  if (ms === 0) return '0s';
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
}
