import { UsageError } from './errors';

// Go's time.ParseDuration grammar, which Velero and the operator use for TTLs.
const unitNanos: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};
const durationPattern = /^(\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/;
const durationPart = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;

export const durationExamples = '8760h, 720h30m, 90m, 45s';

/** Parses a Go duration into milliseconds; undefined when it is not one. */
export function parseGoDuration(text: string): number | undefined {
  if (!durationPattern.test(text)) return undefined;
  let ms = 0;
  for (const [, value, unit] of text.matchAll(durationPart)) {
    ms += Number(value) * (unitNanos[unit as string] ?? Number.NaN);
  }
  return Number.isFinite(ms) ? ms : undefined;
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
