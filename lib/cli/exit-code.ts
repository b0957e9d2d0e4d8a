import { ExitCode, VwError } from '../errors';
import { ApiError, ConnectionError } from '../kube/api-error';

/** The documented exit code an error ends a run with (README "Exit codes"). */
export function exitCodeOf(err: unknown): number {
  if (err instanceof VwError) return err.exitCode;
  if (err instanceof ConnectionError) return ExitCode.preflight;
  if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return ExitCode.preflight;
  return ExitCode.someFailed;
}
