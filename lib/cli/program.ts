import yargs, { type Argv } from 'yargs';
import type { Deps } from '../deps';
import { UsageError } from '../errors';
import { runJournal } from '../steps/journal/recorder';
import { commandName, type VwCommand } from './command';
import { exitCodeOf } from './exit-code';
import { warn } from './io';

declare const __VW_VERSION__: string | undefined;
/** Set by the bundler (scripts/build.mjs) from the release version; unbundled code is a dev build. */
export const pluginVersion = typeof __VW_VERSION__ === 'string' ? __VW_VERSION__ : '0.0.0-dev';

const epilogue =
  'Exit codes: 0 done, 1 some objects failed, 2 bad usage or input, 3 preflight refused, 4 timed out waiting, 130 interrupted.';

/** What yargs keeps about a command's options (yargs 17 returns it from getOptions(), untyped). */
interface ParserOptions {
  key: Record<string, boolean>;
  alias: Record<string, string[]>;
  boolean: string[];
  choices: Record<string, readonly string[]>;
  hiddenOptions: string[];
}

/** A command's flags, read from its own yargs builder, so completion and argv fixing cannot drift. */
export interface FlagTable {
  flags: string[];
  /** Every spelling (--output, -o) of a flag that takes a value, to its canonical key. */
  valueFlags: Map<string, string>;
  choices: Record<string, readonly string[]>;
}

const spell = (key: string) => (key.length === 1 ? `-${key}` : `--${key}`);

export function flagTable(cmd: Pick<VwCommand, 'command' | 'builder'>): FlagTable {
  const o = (cmd.builder(yargs([])) as unknown as { getOptions(): ParserOptions }).getOptions();
  const positionals = new Set([...cmd.command.matchAll(/[[<]([\w-]+)(?:\.\.)?[\]>]/g)].map((m) => m[1]));
  const aliases = new Set(Object.values(o.alias).flat());
  const hidden = new Set(o.hiddenOptions);
  const flags: string[] = [];
  const valueFlags = new Map<string, string>();
  for (const key of Object.keys(o.key)) {
    if (positionals.has(key) || aliases.has(key) || hidden.has(key)) continue;
    const spellings = [key, ...(o.alias[key] ?? [])].map(spell);
    flags.push(...spellings);
    if (!o.boolean.includes(key)) for (const s of spellings) valueFlags.set(s, key);
  }
  return { flags, valueFlags, choices: o.choices };
}

// A flag whose value may be left out (`--dry-run` alone means client), so it never takes the next word.
const optionalValue = new Set(['dry-run']);
const optionalDefault: Record<string, string> = { 'dry-run': 'client' };

/**
 * As pflag reads a flag with a default for a left-out value (kubectl's --dry-run): its value
 * comes only with `=`. Alone it is that default, and the next word is never its value:
 * `--dry-run web` is a client dry run of web.
 */
export function bareOptionalValues(argv: readonly string[]): string[] {
  const end = argv.indexOf('--');
  return argv.map((w, i) => {
    const key = w.slice(2);
    return (end < 0 || i < end) && w.startsWith('--') && key in optionalDefault ? `${w}=${optionalDefault[key]}` : w;
  });
}

/**
 * As kubectl (pflag) reads them, a flag that takes a value takes the next word whatever it looks
 * like: `--ttl -1h` is a TTL of "-1h" (then refused), never `-1 -h` (help).
 */
export function attachDashValues(argv: readonly string[], table: FlagTable): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] as string;
    const next = argv[i + 1];
    const key = table.valueFlags.get(word);
    if (word === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (key && !optionalValue.has(key) && next?.startsWith('-') && next !== '--') {
      out.push(`${word.startsWith('--') ? word : `--${key}`}=${next}`);
      i++;
    } else out.push(word);
  }
  return out;
}

interface YargsInternals {
  getInternalMethods?(): { getUsageInstance?(): { cacheHelpMessage?: () => void } };
}

/**
 * yargs 17 renders a command's whole help before running its handler (lib/command.js,
 * cacheHelpMessage) for a later showHelp(), which this program never calls: a quarter of a
 * command's start-up, spared. --help itself renders as before.
 */
function skipHelpCache(program: Argv) {
  const usage = (program as unknown as YargsInternals).getInternalMethods?.().getUsageInstance?.();
  if (usage?.cacheHelpMessage) usage.cacheHelpMessage = () => undefined;
}

/**
 * The yargs program every binary shares: usage lines start with `kubectl vw`, unknown flags are
 * errors (exit 2), and `--help` never touches a cluster. It never exits the process: help and
 * parse errors come back to the caller.
 */
export function buildProgram(commands: VwCommand[], deps: Deps, onCode: (code: number) => void, usage?: string): Argv {
  let program = yargs()
    .scriptName('kubectl vw')
    .parserConfiguration({ 'boolean-negation': true, 'camel-case-expansion': false })
    .strict()
    .exitProcess(false)
    .help('help')
    .alias('help', 'h')
    .version(pluginVersion)
    .wrap(null)
    .epilogue(epilogue)
    .fail((msg, err) => {
      throw err ?? new UsageError(msg ?? 'invalid usage', 'see: kubectl vw --help');
    });
  if (usage) program = program.usage(usage);
  skipHelpCache(program);
  for (const c of commands) {
    program = program.command({
      command: c.command,
      describe: c.describe,
      // Every command's help ends with the exit codes, as the top level's does.
      builder: (y: Argv) => c.builder(y).epilogue(epilogue),
      handler: async (args) => onCode(await runJournaled(c, c.toOptions(args), deps)),
    });
  }
  return program;
}

/**
 * Runs a command with its entry in the run journal: the command records the start (when it is
 * about to act), this records the end, however the run ends.
 */
async function runJournaled(c: VwCommand, options: Record<string, unknown>, deps: Deps): Promise<number> {
  const journal =
    deps.journal ??
    runJournal({
      command: commandName(c),
      options,
      env: deps.env,
      clock: deps.clock,
      toolVersion: pluginVersion,
      warn: (line) => warn(deps.io, line),
    });
  let code: number;
  try {
    code = await c.run(options, { ...deps, journal });
  } catch (err) {
    await journal.end(exitCodeOf(err), (err as Error)?.message);
    throw err;
  }
  await journal.end(code);
  return code;
}

export const findCommand = (commands: VwCommand[], name: string | undefined) =>
  commands.find((c) => commandName(c) === name);
