import type { KubeClient } from './kube/client';
import type { ConnectionFlags, KubeTarget } from './kube/config';
import type { RunJournal } from './steps/journal/recorder';

/**
 * Where a command writes: data on stdout, progress and diagnostics on stderr. Progress and colour
 * only on a terminal, and colour never under NO_COLOR (https://no-color.org).
 */
export interface IO {
  /** Data: a line (or lines) on stdout. Nothing is written once stdout has closed. */
  out(text: string): void;
  /** Narration: a line on stderr. */
  err(text: string): void;
  /** Raw text to stderr: progress redraws and a subprocess's own output. */
  errRaw(text: string): void;
  /** All of stdin, however slowly it is written (`-f -`). */
  readStdin(): Promise<string>;
  /** stderr is a terminal: progress may redraw a line. */
  interactive: boolean;
  /**
   * stdout is a terminal: tables fit its width (free text shortened or wrapped). Into a pipe or a
   * file a table row is one line, whatever its length, as kubectl prints it.
   */
  outInteractive: boolean;
  /** stdin is a terminal: prompts can be answered. */
  stdinInteractive: boolean;
  /** Colour on stderr. */
  color: boolean;
  /** Colour on stdout: only when stdout itself is a terminal, never into a pipe. */
  outColor: boolean;
  /** -v: stack traces and API retries. */
  verbose: boolean;
  /** Width tables (on a terminal) and reports fit in: COLUMNS, the terminal's, else 100. */
  columns: number;
  /**
   * Width diagnostics on stderr wrap at: COLUMNS or the terminal's. Unset for a log or a script,
   * where each warning and error stays one line to grep.
   */
  errColumns?: number;
}

/** Wall-clock and monotonic time, and sleeping, so tests and the lock never read the clock directly. */
export interface Clock {
  /** Milliseconds since the epoch: for timestamps written to objects and shown to people. */
  now(): number;
  /** A monotonic reading in ms: for measuring how long ago something was observed. */
  monotonic(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** What the process is and where it runs: read once by the entry point, passed everywhere else. */
export interface Environment {
  /** Environment variables (KUBECONFIG, PATH, NO_COLOR, COLUMNS, ...). */
  vars: Readonly<Record<string, string | undefined>>;
  hostname: string;
  pid: number;
  platform: string;
  nodeVersion: string;
  /**
   * This kernel's boot id and this process's PID namespace (Linux), which make a pid mean one
   * process: undefined where they cannot be read, and then no holder of the lock is known dead.
   */
  machine(): { bootId: string; pidNamespace: string } | undefined;
  /** Whether a process of this machine still runs (the lock's crashed-holder check). */
  processAlive(pid: number): boolean;
}

/** Asks the person at the terminal; rejects with InterruptedError on Ctrl-C. */
export interface Prompt {
  question(text: string, signal?: AbortSignal): Promise<string>;
}

/** A resolved target and a client for it: what `connect` gives a command. */
export interface Session {
  target: KubeTarget;
  client: KubeClient;
}

/**
 * Everything a command needs from the outside world. The entry point builds it from the process
 * (lib/cli/process-deps.ts); tests build it from buffers and a fake clock.
 */
export interface Deps {
  io: IO;
  env: Environment;
  clock: Clock;
  prompt: Prompt;
  /** Aborted on Ctrl-C, SIGTERM, or stdout closing: work stops between objects. */
  signal: AbortSignal;
  /** Resolves the flags against the kubeconfig; async so that the client loads only when needed. */
  connect(flags: ConnectionFlags, opts?: { concurrency?: number }): Promise<Session>;
  /**
   * The lock this process already holds for a whole procedure (kubectl vw uninstall): the steps
   * run under it rather than taking and releasing their own, so no other run gets in between.
   */
  heldLock?: ActLock;
  /** This run's entry in the journal: started right before the run takes the lock, ended by the entry point. */
  journal?: RunJournal;
}

/**
 * The lock a change is made under. Its signal aborts once the lock is lost (and on Ctrl-C);
 * check() throws then, between objects; confirm() proves, by renewing it now, that it is still
 * held at this very moment, right before a destructive request.
 */
export interface ActLock {
  signal: AbortSignal;
  check(): void;
  confirm(): Promise<void>;
}

/** The part of Deps a step needs: the cluster, time, the interruption signal and a way to narrate. */
export interface StepDeps {
  client: KubeClient;
  clock: Clock;
  signal: AbortSignal;
  report: Reporter;
}

/**
 * How a step narrates: diagnostics and progress go to the person (stderr), never into the data a
 * command prints. lib/cli implements it for a terminal and for logs.
 */
export interface Reporter {
  /** A terminal is watching: progress redraws in place; otherwise every line is kept in a log. */
  interactive: boolean;
  info(line: string): void;
  warn(line: string): void;
  /** A counter redrawn in place on a terminal; nothing off one (logs stay short). */
  progress(line: string): void;
  /**
   * While waiting: off a terminal, `still waiting: <status()>` at most once per heartbeat (30 s),
   * so a log shows the run is alive; on a terminal the progress line says it. Ended by done().
   */
  waiting(status: () => string): void;
  /**
   * One of many warnings of a kind (`about`, e.g. "objects failed"): the first few are said in
   * full as they come, the rest counted and summed up by done(); every one with -v.
   */
  warnEach(about: string, line: string): void;
  /** Ends a progress line and a heartbeat; sums up warnings held back. */
  done(): void;
  /** A line shown only with -v (API retries, skipped detail). */
  debug(line: string): void;
}

export const silentReporter: Reporter = {
  interactive: false,
  info: () => undefined,
  warn: () => undefined,
  progress: () => undefined,
  waiting: () => undefined,
  warnEach: () => undefined,
  done: () => undefined,
  debug: () => undefined,
};
