import type { Clock, Deps, Environment, IO, Prompt, Session } from '../../lib/deps';
import { InterruptedError } from '../../lib/errors';
import { KubeClient } from '../../lib/kube/client';
import { type ConnectionFlags, resolveKubeTarget } from '../../lib/kube/config';

// In-process Deps for the fast test layer: buffers for streams, switches for terminals, a clock
// that can be moved by hand, scripted prompt answers. Like gh's iostreams.Test().

export interface TestStreams {
  stdout: string[];
  stderr: string[];
}

export interface TestDepsOptions {
  /** Without one, connecting is an error: flag validation must never reach a cluster. */
  kubeconfig?: string;
  stdin?: string;
  stdoutTTY?: boolean;
  stderrTTY?: boolean;
  stdinTTY?: boolean;
  color?: boolean;
  verbose?: boolean;
  columns?: number;
  /**
   * Answers the prompt gives, in order; 'interrupt' is a Ctrl-C at the prompt. A function answers
   * after doing something first (changing the cluster between the plan and the confirmation).
   */
  answers?: (string | ((question: string) => Promise<string>))[];
  vars?: Record<string, string | undefined>;
  clock?: Clock;
  /** Replaces connect (e.g. to hand out a client whose requests are counted). */
  connect?: (flags: ConnectionFlags) => Session;
}

export function fakeClock(start = Date.parse('2026-11-27T12:00:00Z')): Clock & { advance(ms: number): void } {
  let now = start;
  let mono = 0;
  return {
    now: () => now,
    monotonic: () => mono,
    sleep: async () => undefined,
    advance(ms: number) {
      now += ms;
      mono += ms;
    },
  };
}

export const realClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      signal?.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      });
    }),
};

export function testDeps(opts: TestDepsOptions = {}): { deps: Deps; out: TestStreams; abort(reason?: unknown): void } {
  const out: TestStreams = { stdout: [], stderr: [] };
  const line = (t: string) => (t.endsWith('\n') ? t : `${t}\n`);
  const io: IO = {
    out: (t) => out.stdout.push(line(t)),
    err: (t) => out.stderr.push(line(t)),
    errRaw: (t) => out.stderr.push(t),
    readStdin: async () => opts.stdin ?? '',
    interactive: Boolean(opts.stderrTTY),
    outInteractive: Boolean(opts.stdoutTTY),
    stdinInteractive: Boolean(opts.stdinTTY),
    color: Boolean(opts.color && opts.stderrTTY),
    outColor: Boolean(opts.color && opts.stdoutTTY),
    verbose: Boolean(opts.verbose),
    columns: opts.columns ?? 100,
  };
  const answers = [...(opts.answers ?? [])];
  const prompt: Prompt = {
    async question(text) {
      out.stderr.push(text);
      const next = answers.shift();
      const a = typeof next === 'function' ? await next(text) : next;
      if (a === 'interrupt') throw new InterruptedError('interrupted at the prompt: nothing was changed');
      return a ?? '';
    },
  };
  const vars = { KUBECONFIG: opts.kubeconfig, ...opts.vars };
  const env: Environment = {
    vars,
    hostname: 'test-host',
    pid: 4242,
    platform: 'linux',
    nodeVersion: '22.0.0',
    machine: () => ({ bootId: 'test-boot', pidNamespace: '4026531836' }),
    processAlive: () => true,
  };
  const controller = new AbortController();
  const deps: Deps = {
    io,
    env,
    clock: opts.clock ?? realClock,
    prompt,
    signal: controller.signal,
    connect: async (flags) => {
      if (opts.connect) return opts.connect(flags);
      if (!opts.kubeconfig && !flags.kubeconfig) throw new Error('this test must not connect to a cluster');
      const target = resolveKubeTarget(flags, vars);
      return { target, client: new KubeClient(target, { fieldManager: 'kubectl-vw' }) };
    },
  };
  return {
    deps,
    out,
    abort: (reason = new InterruptedError('interrupted (SIGINT): stopped between objects')) => controller.abort(reason),
  };
}

export const text = (lines: string[]) => lines.join('');
