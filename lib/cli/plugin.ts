import yargs, { type CommandModule } from 'yargs';
import { ExitCode } from '../errors';

declare const __VW_VERSION__: string | undefined;
/** Set by the bundler (scripts/build.mjs) from the release version; unbundled code is a dev build. */
export const pluginVersion = typeof __VW_VERSION__ === 'string' ? __VW_VERSION__ : '0.0.0-dev';

/**
 * Builds the yargs program every binary shares: usage lines start with `kubectl vw`, unknown
 * flags are errors (exit 2), and `--help` never touches a cluster.
 */
export function buildProgram(argv: string[], commands: CommandModule<any, any>[]) {
  let program = yargs(argv)
    .scriptName('kubectl vw')
    .parserConfiguration({ 'boolean-negation': true, 'camel-case-expansion': false })
    .strict()
    .help('help')
    .alias('help', 'h')
    .version(pluginVersion)
    .wrap(null)
    .epilogue(
      'Exit codes: 0 done, 1 some objects failed, 2 bad usage or input, 3 preflight refused, 4 timed out waiting.',
    )
    .fail((msg, err) => {
      if (err) throw err;
      process.stderr.write(`error: ${msg}\n  see: kubectl vw --help\n`);
      process.exit(ExitCode.usage);
    });
  for (const c of commands) program = program.command(c);
  return program;
}

/** A single-purpose binary (kubectl-vw-pause): the same command as `kubectl vw pause`. */
export async function runSinglePlugin(command: CommandModule<any, any>, argv = process.argv.slice(2)) {
  const name = String(command.command).split(' ')[0] as string;
  await buildProgram([name, ...argv], [command])
    .demandCommand(1)
    .parseAsync();
}
