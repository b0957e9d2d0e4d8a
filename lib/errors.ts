// Exit codes are part of the CLI contract (README "Exit codes"): scripts branch on them.
export const ExitCode = {
  ok: 0,
  someFailed: 1,
  usage: 2,
  preflight: 3,
  timeout: 4,
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error meant for the user: one line, a hint on how to fix it, and the exit code. */
export class VwError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly hint?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class UsageError extends VwError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.usage, hint);
  }
}

export class PreflightError extends VwError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.preflight, hint);
  }
}

export class TimeoutError extends VwError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.timeout, hint);
  }
}

/** Ctrl-C, SIGTERM, or stdout closed before the work was done: stopped between objects. */
export class InterruptedError extends VwError {
  constructor(message = 'interrupted', hint?: string) {
    super(message, ExitCode.interrupted, hint);
  }
}

/** Throws when the run has been interrupted, so loops stop between objects, never inside one. */
export function throwIfInterrupted(signal: AbortSignal) {
  if (!signal.aborted) return;
  if (signal.reason instanceof VwError) throw signal.reason;
  throw new InterruptedError();
}
