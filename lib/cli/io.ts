import { styleText } from 'node:util';
import type { Clock, IO, Reporter } from '../deps';
import { indented } from './layout';

export type { IO } from '../deps';

type Style = 'red' | 'green' | 'yellow' | 'bold' | 'dim' | 'cyan';
// The IO has already decided whether colour is allowed, per stream; styleText would otherwise
// look at stdout even for text bound for stderr.
const style = (s: Style, text: string) => styleText(s, text, { validateStream: false });
export const paint = (io: IO, s: Style, text: string) => (io.color ? style(s, text) : text);

/** For what goes to stdout (tables, status): coloured only when stdout is a terminal. */
export const paintOut = (io: IO, s: Style, text: string) => (io.outColor ? style(s, text) : text);

/** A diagnostic line, wrapped (continuations indented) when stderr has a known width. */
export function diagnostic(io: IO, text: string, indent = 0): void {
  for (const paragraph of text.split('\n')) {
    const body = paragraph.trimStart();
    const lead = indent + paragraph.length - body.length;
    const width = io.errColumns;
    for (const l of width ? indented(lead, body, width) : [`${' '.repeat(lead)}${body}`]) io.err(l);
  }
}

export const warn = (io: IO, text: string) => diagnostic(io, `${paint(io, 'yellow', 'warning:')} ${text}`);
export const info = (io: IO, text: string) => diagnostic(io, text);

/** Off a terminal, a run that waits says so at most this often. */
export const heartbeatMs = 30_000;

/** Warnings of one kind said in full before the rest are counted. */
const warningsShown = 3;

/**
 * Many warnings of one kind (2,000 applications not paused): a few are each said in full; more
 * are one line with the count, the first few subjects and how to see every one (-v).
 */
export function warnEach(
  io: IO,
  items: readonly { subject: string; text: string }[],
  about: (count: number) => string,
  then?: string,
): void {
  if (io.verbose || items.length <= warningsShown) {
    for (const i of items) warn(io, i.text);
    return;
  }
  const first = items.slice(0, warningsShown).map((i) => i.subject);
  const all = `${about(items.length)}: ${first.join(', ')}, ... (-v says each; -o json lists every object)`;
  warn(io, then ? `${all}; ${then}` : all);
}

/**
 * Narration on stderr: on a terminal a progress line redrawn in place (with the elapsed time);
 * off a terminal no progress at all, only a plain heartbeat while waiting, so logs stay short.
 */
export function ioReporter(io: IO, clock: Clock, opts: { heartbeatMs?: number } = {}): Reporter {
  const started = clock.monotonic();
  let last = '';
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  const heldBack = new Map<string, { said: number; more: number }>();
  const clear = () => {
    if (io.interactive && last) io.errRaw('\r\x1b[2K');
    last = '';
  };
  const line = (write: () => void) => {
    clear();
    write();
  };
  return {
    interactive: io.interactive,
    info: (text) => line(() => info(io, text)),
    warn: (text) => line(() => warn(io, text)),
    debug: (text) => {
      if (io.verbose) line(() => io.err(text));
    },
    progress: (text) => {
      if (!io.interactive) return;
      const secs = Math.round((clock.monotonic() - started) / 1000);
      const next = `${text}  ${paint(io, 'dim', `${secs}s`)}`;
      if (next === last) return;
      last = next;
      io.errRaw(`\r\x1b[2K${next}`);
    },
    waiting: (status) => {
      if (io.interactive || heartbeat) return;
      heartbeat = setInterval(() => io.err(`still waiting: ${status()}`), opts.heartbeatMs ?? heartbeatMs);
      heartbeat.unref?.();
    },
    warnEach: (about, text) => {
      const seen = heldBack.get(about) ?? { said: 0, more: 0 };
      heldBack.set(about, seen);
      if (io.verbose || seen.said < warningsShown) {
        seen.said++;
        line(() => warn(io, text));
      } else seen.more++;
    },
    done: () => {
      clear();
      clearInterval(heartbeat);
      heartbeat = undefined;
      for (const [about, seen] of heldBack)
        if (seen.more) warn(io, `${seen.more} more ${about} (-v says each; the table lists every object)`);
      heldBack.clear();
    },
  };
}

export { plural } from '../plural';
