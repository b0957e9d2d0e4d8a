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

/** Off a terminal, progress is a plain line at most this often. */
const plainProgressEveryMs = 5_000;

/**
 * Narration on stderr: on a terminal a progress line redrawn in place (with the elapsed time);
 * off a terminal the same text as a plain line, at most every few seconds, so logs stay short.
 */
export function ioReporter(io: IO, clock: Clock): Reporter {
  const started = clock.monotonic();
  let last = '';
  let lastPlainAt = Number.NEGATIVE_INFINITY;
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
      if (!io.interactive) {
        const now = clock.monotonic();
        if (now - lastPlainAt < plainProgressEveryMs) return;
        lastPlainAt = now;
        io.err(text);
        return;
      }
      const secs = Math.round((clock.monotonic() - started) / 1000);
      const next = `${text}  ${paint(io, 'dim', `${secs}s`)}`;
      if (next === last) return;
      last = next;
      io.errRaw(`\r\x1b[2K${next}`);
    },
    done: clear,
  };
}

export { plural } from '../plural';
