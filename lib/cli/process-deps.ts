import { dropEarlySignalHandlers } from './early-signals';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { createInterface } from 'node:readline/promises';
import { sleep } from '../concurrency';
import type { Deps, Environment, IO, Prompt } from '../deps';
import { InterruptedError } from '../errors';
import { interruptBackstopMs } from '../kube/interruption';

// The one place that builds Deps from the process: streams, signals, environment, clock. Every
// other module under lib/ gets them passed in.

const colourAllowed = (vars: Environment['vars']) => !vars.NO_COLOR && vars.TERM !== 'dumb';

function columnsFromEnv(vars: Environment['vars']): number | undefined {
  const fromEnv = Number(vars.COLUMNS);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : undefined;
}

function columnsOf(vars: Environment['vars']): number {
  return columnsFromEnv(vars) ?? (process.stdout.isTTY && process.stdout.columns ? process.stdout.columns : 100);
}

const errColumnsOf = (vars: Environment['vars']) =>
  columnsFromEnv(vars) ?? (process.stderr.isTTY && process.stderr.columns ? process.stderr.columns : undefined);

/** All of stdin, read as a stream: a slow writer (or a non-blocking pipe) is simply waited for. */
async function readAll(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function processIO(verbose: boolean, onStdoutClosed: () => void): IO {
  const vars = process.env;
  const interactive = Boolean(process.stderr.isTTY);
  let stdoutOpen = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    // `| head`, `| true`: the reader is gone. Stop writing, and let the run stop between objects.
    stdoutOpen = false;
    if (err.code === 'EPIPE') onStdoutClosed();
  });
  process.stderr.on('error', () => undefined);
  const line = (t: string) => (t.endsWith('\n') ? t : `${t}\n`);
  return {
    out: (t) => {
      if (stdoutOpen) process.stdout.write(line(t));
    },
    err: (t) => process.stderr.write(line(t)),
    errRaw: (t) => process.stderr.write(t),
    readStdin: readAll,
    interactive,
    outInteractive: Boolean(process.stdout.isTTY),
    stdinInteractive: Boolean(process.stdin.isTTY),
    color: interactive && colourAllowed(vars),
    outColor: Boolean(process.stdout.isTTY) && colourAllowed(vars),
    verbose,
    columns: columnsOf(vars),
    errColumns: errColumnsOf(vars),
  };
}

/** A question on the terminal; Ctrl-C there (readline's own SIGINT) is an interruption, exit 130. */
const terminalPrompt: Prompt = {
  async question(text, signal) {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    let onAbort: () => void = () => undefined;
    try {
      const interrupted = new Promise<never>((_, reject) => {
        onAbort = () => reject(new InterruptedError('interrupted at the prompt: nothing was changed'));
        rl.on('SIGINT', onAbort);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
      // Ctrl-D (end of input) answers nothing, which is no.
      const ended = new Promise<string>((resolve) => rl.on('close', () => resolve('')));
      const answer = rl.question(text);
      for (const p of [interrupted, answer]) p.catch(() => undefined);
      return await Promise.race([answer, interrupted, ended]);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      rl.close();
    }
  },
};

/** The boot id and PID namespace inode, read when the lock first needs them (Linux only). */
function machineOf(): () => ReturnType<Environment['machine']> {
  let known: ReturnType<Environment['machine']> | null = null;
  return () => {
    if (known !== null) return known;
    try {
      const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
      const pidNamespace = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1];
      known = bootId && pidNamespace ? { bootId, pidNamespace } : undefined;
    } catch {
      known = undefined;
    }
    return known;
  };
}

function environment(): Environment {
  return {
    vars: process.env,
    hostname: hostname(),
    pid: process.pid,
    platform: process.platform,
    nodeVersion: process.versions.node,
    machine: machineOf(),
    processAlive: (pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code !== 'ESRCH';
      }
    },
  };
}

/** Exit 130 with the usual line, for an interruption the run did not get to report itself. */
function exitInterrupted(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(130);
}

/**
 * The process's Deps. Ctrl-C and SIGTERM abort the run's signal: reads in flight stop at once,
 * the run stops between objects and releases its lock, within a few seconds even when the API
 * server never answers (a backstop ends it then); a second one exits at once. stdout closing
 * early aborts it the same way.
 */
export function processDeps(argv: readonly string[]): Deps {
  const controller = new AbortController();
  const verbose = argv.includes('-v') || argv.includes('--verbose');
  const io = processIO(verbose, () =>
    controller.abort(new InterruptedError('stdout was closed: stopped between objects')),
  );
  dropEarlySignalHandlers();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (controller.signal.aborted) exitInterrupted(`interrupted again (${sig}): stopped at once`);
      controller.abort(new InterruptedError(`interrupted (${sig}): stopped between objects`));
      setTimeout(
        () => exitInterrupted(`interrupted (${sig}): the API server did not answer; stopped`),
        interruptBackstopMs,
      ).unref();
    });
  }
  const env = environment();
  return {
    io,
    env,
    clock: { now: () => Date.now(), monotonic: () => performance.now(), sleep },
    prompt: terminalPrompt,
    signal: controller.signal,
    // The client and the kubeconfig machinery load only when a command connects: --help,
    // completion of flags and usage errors never pay for them.
    connect: async (flags, opts = {}) =>
      (await import('./connect')).connect(flags, { ...opts, interrupt: controller.signal }, env, io),
  };
}

const drained = (stream: NodeJS.WriteStream) =>
  new Promise<void>((resolve) =>
    stream.writableLength && !stream.destroyed ? stream.once('drain', resolve) : resolve(),
  );

/**
 * Exits once stdout and stderr have drained, so piped output is never cut short: 300 warnings
 * (-v) are 50 KB on stderr, more than a pipe holds when the command ends.
 */
export async function exitAfterDrain(code: number): Promise<never> {
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit(code);
}
