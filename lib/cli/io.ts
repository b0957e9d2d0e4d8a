import { styleText } from 'node:util';

/**
 * Where a command writes: data on stdout, progress and diagnostics on stderr. Progress and colour
 * only when stderr is a terminal, and colour never under NO_COLOR (https://no-color.org).
 */
export interface IO {
  out: (text: string) => void;
  err: (text: string) => void;
  /** stderr is a terminal: progress may redraw a line. */
  interactive: boolean;
  /** stdin is a terminal: prompts can be answered. */
  stdinInteractive: boolean;
  /** Colour on stderr. */
  color: boolean;
  /** Colour on stdout: only when stdout itself is a terminal, never into a pipe. */
  outColor: boolean;
  verbose: boolean;
}

const colourAllowed = () => !process.env.NO_COLOR && process.env.TERM !== 'dumb';

export function processIO(opts: { verbose?: boolean } = {}): IO {
  const interactive = Boolean(process.stderr.isTTY);
  return {
    out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
    interactive,
    stdinInteractive: Boolean(process.stdin.isTTY),
    color: interactive && colourAllowed(),
    outColor: Boolean(process.stdout.isTTY) && colourAllowed(),
    verbose: Boolean(opts.verbose),
  };
}

type Style = 'red' | 'green' | 'yellow' | 'bold' | 'dim' | 'cyan';
// The IO has already decided whether colour is allowed, per stream; styleText would otherwise
// check process.stdout even for text bound for stderr.
const style = (s: Style, text: string) => styleText(s, text, { validateStream: false });
export const paint = (io: IO, s: Style, text: string) => (io.color ? style(s, text) : text);

/** For what goes to stdout (tables, status): coloured only when stdout is a terminal. */
export const paintOut = (io: IO, s: Style, text: string) => (io.outColor ? style(s, text) : text);

export const warn = (io: IO, text: string) => io.err(`${paint(io, 'yellow', 'warning:')} ${text}`);
export const info = (io: IO, text: string) => io.err(text);

/** A one-line counter redrawn in place on a terminal; silent otherwise (callers log lines). */
export class ProgressLine {
  private last = '';
  private readonly started = Date.now();
  constructor(private readonly io: IO) {}
  update(text: string) {
    if (!this.io.interactive) return;
    const secs = Math.round((Date.now() - this.started) / 1000);
    const line = `${text}  ${paint(this.io, 'dim', `${secs}s`)}`;
    if (line === this.last) return;
    this.last = line;
    process.stderr.write(`\r\x1b[2K${line}`);
  }
  done() {
    if (this.io.interactive && this.last) process.stderr.write('\r\x1b[2K');
    this.last = '';
  }
}
