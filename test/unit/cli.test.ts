import yargs from 'yargs';
import { commandName, type VwCommand } from '../../lib/cli/command';
import { bareOptionalValues } from '../../lib/cli/program';
import { reportError, runProgram } from '../../lib/cli/run';
import { ExitCode, InterruptedError, PreflightError, TimeoutError, UsageError, VwError } from '../../lib/errors';
import { ApiError, ConnectionError } from '../../lib/kube/api-error';
import { LockLostError } from '../../lib/kube/lease';
import { commands, usage } from '../../plugins/vw/commands';
import { testDeps, text } from '../helpers/test-deps';

// The fast layer: argv to exit code in-process, with no cluster (connecting would throw).

const run = async (argv: string[], opts: Parameters<typeof testDeps>[0] = {}) => {
  const t = testDeps(opts);
  const code = await runProgram(argv, commands, t.deps, { usage });
  return { code, stdout: text(t.out.stdout), stderr: text(t.out.stderr) };
};

describe('errors become one line and the documented exit code', () => {
  it.each([
    [new UsageError('bad', 'hint'), ExitCode.usage],
    [new PreflightError('no'), ExitCode.preflight],
    [new TimeoutError('slow'), ExitCode.timeout],
    [new InterruptedError(), ExitCode.interrupted],
    [new LockLostError('lost'), ExitCode.preflight],
    [new VwError('some failed', ExitCode.someFailed), ExitCode.someFailed],
    [new ConnectionError('https://x', new Error('ECONNREFUSED')), ExitCode.preflight],
    [new ApiError(401, 'Unauthorized', 'no'), ExitCode.preflight],
    [new ApiError(403, 'Forbidden', 'no'), ExitCode.preflight],
    [new ApiError(500, 'InternalError', 'boom'), ExitCode.someFailed],
    [new Error('surprise'), ExitCode.someFailed],
  ])('%p -> %p', (err, code) => {
    const t = testDeps();
    expect(reportError(t.deps.io, err)).toBe(code);
    const out = text(t.out.stderr);
    expect(out).toMatch(/^error: /);
    expect(out).not.toMatch(/\n\s+at /); // no stack trace without -v
  });

  it('-v adds the stack trace', () => {
    const t = testDeps({ verbose: true });
    reportError(t.deps.io, new Error('surprise'));
    expect(text(t.out.stderr)).toMatch(/\n\s+at /);
  });
});

describe('flags are validated before any cluster is reached (exit 2)', () => {
  it.each([
    [['backup', '--ttl', '1y'], /invalid --ttl "1y"/],
    [['backup', '--ttl', '-1h'], /invalid --ttl "-1h"/],
    [['backup', '--ttl=-1h'], /invalid --ttl "-1h"/],
    [['backup'], /--ttl is required/],
    // What the Operation CRD's pattern refuses is refused here, before anything is created.
    [['backup', '--ttl', '+8760h'], /invalid --ttl "\+8760h"/],
    [['backup', '--ttl', '8760h.5m', '--allow-short-ttl'], /invalid --ttl "8760h\.5m"/],
    [['uninstall', '--ttl', '.5h', '--allow-short-ttl'], /invalid --ttl "\.5h"/],
    [['backup', '--all', '--ttl', '8760h', '--name-suffix', 'Final_Backup'], /invalid --name-suffix "Final_Backup"/],
    [['pause', '--all', '--concurrency', '0'], /invalid --concurrency "0"/],
    [['pause', '--all', '--timeout', 'soon'], /invalid --timeout "soon"/],
    [['pause', '--all', '--timeout', '-5m'], /invalid --timeout "-5m"/],
    [['pause', '--all', '--request-timeout', 'later'], /invalid --request-timeout "later"/],
    [['pause', '--all', '-o', 'xml'], /Invalid values/],
    [['pause', '--bogus'], /Unknown argument: bogus/],
    [['decommission', '-n', 'Not_A_Namespace'], /invalid namespace "Not_A_Namespace"/],
    [['decommission', '-n', '-A'], /invalid namespace "-A"/],
    [['uninstall'], /--ttl is required/],
    [['uninstall', '--skip-backup', '-o', 'json'], /prints a narrative/],
    [['nosuchstep'], /Unknown argument: nosuchstep/],
    [[], /name a step/],
  ])('%p', async (argv, message) => {
    const r = await run(argv);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(ExitCode.usage);
  });

  it('--help prints usage on stdout, exit 0, without a cluster', async () => {
    const r = await run(['pause', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^kubectl vw pause \[names\.\.\]/);
    expect(r.stdout).toMatch(/--as-group/);
    expect(r.stdout).toMatch(/Exit codes: 0 done/);
  });

  it('version', async () => {
    const r = await run(['version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^kubectl-vw \S+ \(node 22\.0\.0\)/);
  });
});

describe('flags as kubectl reads them', () => {
  const parse = (c: VwCommand, argv: string[]): any => {
    let args: unknown;
    yargs()
      .parserConfiguration({ 'boolean-negation': true, 'camel-case-expansion': false })
      .command({
        command: c.command,
        describe: '',
        builder: c.builder,
        handler: (a) => {
          args = a;
        },
      })
      .parseSync([commandName(c), ...bareOptionalValues(argv)]);
    return c.toOptions(args);
  };
  const withNames = commands.filter((c) => c.command.includes('[names..]'));

  it('uninstall knows which plan options the command line gave (a run of a plan compares only those)', () => {
    const uninstall = commands.find((c) => commandName(c) === 'uninstall') as VwCommand;
    const none = parse(uninstall, ['--plan', 'p.yaml']);
    expect(none.given).toEqual({});
    expect(none).toMatchObject({ deleteApps: false, storageLocation: 'aws-primary', marginMs: 86_400_000 });
    const some = parse(uninstall, [
      '--plan',
      'p.yaml',
      '--ttl',
      '720h',
      '--no-delete-apps',
      '--expiry-margin',
      '1440m',
    ]);
    expect(some.given).toEqual({ ttl: '720h', deleteApps: false, expiryMargin: '1440m' });
  });

  it('no flag takes every following word (yargs array:), only the positional names do', () => {
    for (const c of commands) {
      const options = (c.builder(yargs([])) as unknown as { getOptions(): { array: string[] } }).getOptions();
      expect({ command: c.command, arrays: options.array.filter((k) => !c.command.includes(`[${k}..]`)) }).toEqual({
        command: c.command,
        arrays: [],
      });
    }
  });

  it.each(withNames.map((c) => [c.command.split(' ')[0], c] as const))(
    '%s: --as-group g NAME keeps NAME a name, and --as-group repeats',
    (_name, c) => {
      const o = parse(c, ['--as-group=g', 'web', '--ttl', '720h']);
      expect(o.connection.asGroups).toEqual(['g']);
      expect(o.selection.names).toEqual(['web']);
      const two = parse(c, ['--as-group', 'g1', '--as-group', 'g2', 'web', '--ttl', '720h']);
      expect(two.connection.asGroups).toEqual(['g1', 'g2']);
      expect(two.selection.names).toEqual(['web']);
    },
  );

  it('a bare --dry-run is client and never takes the next word', () => {
    for (const c of withNames) {
      const o = parse(c, ['--dry-run', 'web', '--ttl', '720h']);
      expect(o.dryRun).toBe('client');
      expect(o.selection.names).toEqual(['web']);
      expect(parse(c, ['--dry-run=server', 'web', '--ttl', '720h']).dryRun).toBe('server');
    }
  });
});
