import { ExitCode, VwError } from '../errors';
import { ApiError, ConnectionError } from '../kube/api-error';
import { type IO, paint } from './io';

/** Turns any error into one line on stderr (and a hint), plus the documented exit code. */
export function reportError(io: IO, err: unknown): number {
  const line = (msg: string, hint?: string) => {
    io.err(`${paint(io, 'red', 'error:')} ${msg}`);
    if (hint) io.err(`  ${hint}`);
  };
  if (err instanceof VwError) {
    line(err.message, err.hint);
    if (io.verbose && err.stack) io.err(err.stack);
    return err.exitCode;
  }
  if (err instanceof ConnectionError) {
    line(err.message, 'check --context/--kubeconfig, and that the cluster is up (kubectl cluster-info)');
    if (io.verbose) io.err(String(err.cause?.stack ?? ''));
    return ExitCode.preflight;
  }
  if (err instanceof ApiError) {
    if (err.status === 401) {
      line(`the API server rejected the credentials: ${err.message}`, 'refresh your kubeconfig credentials');
      return ExitCode.preflight;
    }
    if (err.status === 403) {
      line(
        `forbidden: ${err.message}`,
        'ask a cluster admin for the RBAC permissions the README lists for this command',
      );
      return ExitCode.preflight;
    }
    line(`API server answered ${err.status} ${err.reason}: ${err.message}`);
    return ExitCode.someFailed;
  }
  const e = err as Error;
  line(e?.message ?? String(err), io.verbose ? undefined : 'run again with -v for details');
  if (io.verbose && e?.stack) io.err(e.stack);
  return ExitCode.someFailed;
}

/** Runs a command body and exits with its code; never lets a stack trace reach the user unasked. */
export async function runAndExit(io: IO, body: () => Promise<number>): Promise<never> {
  let code: number;
  try {
    code = await body();
  } catch (err) {
    code = reportError(io, err);
  }
  // Let stdout drain before exiting so piped output is never cut short.
  await new Promise<void>((resolve) =>
    process.stdout.writableLength ? process.stdout.once('drain', resolve) : resolve(),
  );
  process.exit(code);
}
