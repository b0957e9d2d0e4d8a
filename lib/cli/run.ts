import type { Deps, IO } from '../deps';
import { ExitCode, VwError } from '../errors';
import { ApiError, ConnectionError } from '../kube/api-error';
import type { VwCommand } from './command';
import { exitCodeOf } from './exit-code';
import { diagnostic, paint } from './io';
import { exitAfterDrain, processDeps } from './process-deps';
import { attachDashValues, bareOptionalValues, buildProgram, findCommand, flagTable } from './program';

// The entry point: the only place that maps errors to exit codes and exits.

/** Turns any error into one line on stderr (and a hint), plus the documented exit code. */
export function reportError(io: IO, err: unknown): number {
  const line = (msg: string, hint?: string) => {
    diagnostic(io, `${paint(io, 'red', 'error:')} ${msg}`);
    if (hint) diagnostic(io, hint, 2);
  };
  if (err instanceof VwError) {
    line(err.message, err.hint);
    if (io.verbose && err.stack) io.err(err.stack);
    return exitCodeOf(err);
  }
  if (err instanceof ConnectionError) {
    line(err.message, 'check --context/--kubeconfig, and that the cluster is up (kubectl cluster-info)');
    if (io.verbose) io.err(String(err.cause?.stack ?? ''));
    return ExitCode.preflight;
  }
  if (err instanceof ApiError) return reportApiError(io, err, line);
  const e = err as Error;
  line(e?.message ?? String(err), io.verbose ? undefined : 'run again with -v for details');
  if (io.verbose && e?.stack) io.err(e.stack);
  return ExitCode.someFailed;
}

function reportApiError(io: IO, err: ApiError, line: (msg: string, hint?: string) => void): number {
  if (io.verbose && err.stack) io.err(err.stack);
  if (err.status === 401) {
    line(`the API server rejected the credentials: ${err.message}`, 'refresh your kubeconfig credentials');
    return ExitCode.preflight;
  }
  if (err.status === 403) {
    line(
      `forbidden: ${err.message}`,
      'kubectl vw rbac COMMAND [its flags] prints the RBAC it needs, for a cluster admin to apply',
    );
    return ExitCode.preflight;
  }
  line(`API server answered ${err.status} ${err.reason}: ${err.message}`);
  return ExitCode.someFailed;
}

/**
 * Parses argv and runs the command it names with these deps; returns the exit code. In-process
 * tests call this with buffers for streams; the binaries call main().
 */
export async function runProgram(
  argv: readonly string[],
  commands: VwCommand[],
  deps: Deps,
  opts: { usage?: string; single?: boolean } = {},
): Promise<number> {
  let code: number = ExitCode.ok;
  const named = findCommand(commands, argv[0]);
  const rest = bareOptionalValues(argv.slice(1));
  // Reading a command's flags costs a yargs instance: only when a flag is followed by a dash word.
  const dashPair = rest.some((w, i) => w.startsWith('-') && rest[i + 1]?.startsWith('-'));
  const words = named && dashPair ? attachDashValues(rest, flagTable(named)) : rest;
  const fixed = argv.length ? [argv[0] as string, ...words] : [];
  try {
    if (named?.raw) return await named.raw(rest, deps);
    const program = buildProgram(
      commands,
      deps,
      (c) => {
        code = c;
      },
      opts.usage,
    );
    if (opts.single) program.demandCommand(1);
    else program.demandCommand(1, 'name a step; see the list above');
    let output = '';
    await program.parseAsync(fixed, {}, (_err, _args, text) => {
      output = text;
    });
    if (output) deps.io.out(output);
  } catch (err) {
    code = reportError(deps.io, err);
  }
  return code;
}

/** The binaries' entry point: run, then exit with the code once stdout has drained. */
export async function main(
  commands: VwCommand[],
  argv: readonly string[],
  opts: { usage?: string; single?: boolean } = {},
) {
  const deps = processDeps(argv);
  // Completion must not go through strict parsing: partial words are not errors.
  const code =
    argv[0] === '__complete'
      ? await (await import('./completion')).printCompletions(argv.slice(1), commands, deps)
      : await runProgram(argv, commands, deps, opts);
  await exitAfterDrain(code);
}
