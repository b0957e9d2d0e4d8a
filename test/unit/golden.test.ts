import type { OutputFormat } from '../../lib/cli/flags';
import { printResults } from '../../lib/cli/output';
import { printBackupDryRun, printBackupRecords } from '../../lib/cli/printers/backup';
import { printDecommission } from '../../lib/cli/printers/decommission';
import { printPersists, printPlan } from '../../lib/cli/printers/purge';
import { printStatus } from '../../lib/cli/printers/status';
import { printDocument, document } from '../../lib/cli/output';
import type { KubeObject } from '../../lib/kube/resources';
import { persistsFrom } from '../../lib/steps/persists';
import { type ObjectResult, summarize } from '../../lib/steps/results';
import { judge } from '../../lib/steps/status/judge';
import { expectGolden } from '../helpers/golden';
import {
  backupDryRunPlan,
  backupRecords,
  cluster,
  observedMidway,
  pauseResults,
  persistsInput,
  purgePlan,
  purgeResults,
  resumeResults,
} from '../helpers/fixtures';
import { testDeps, text } from '../helpers/test-deps';

// Every command's output, in every format, pinned by a golden file under test/golden/.

const judging = { now: Date.parse('2026-11-27T12:00:00Z'), marginMs: 24 * 3_600_000 };
const formats: OutputFormat[] = ['table', 'wide', 'json', 'yaml', 'name'];
const fileOf = (name: string, f: OutputFormat) => (f === 'json' || f === 'yaml' ? `${name}.${f}` : `${name}.${f}.txt`);

function render(print: (io: ReturnType<typeof testDeps>['deps']['io'], format: OutputFormat) => void, f: OutputFormat) {
  const t = testDeps({ columns: 100 });
  print(t.deps.io, f);
  return text(t.out.stdout);
}

describe.each(formats)('golden output, -o %s', (format) => {
  const golden = (name: string, print: Parameters<typeof render>[0]) =>
    expectGolden(fileOf(name, format), render(print, format));

  it('pause', () =>
    golden('pause', (io, f) =>
      printResults(
        io,
        f,
        'PauseResult',
        { context: 'prod', dryRun: 'none', summary: summarize(pauseResults), wait: null },
        pauseResults,
      ),
    ));

  it('pause --dry-run=server', () =>
    golden('pause-dry-run-server', (io, f) =>
      printResults(
        io,
        f,
        'PauseResult',
        { context: 'prod', dryRun: 'server', summary: summarize(pauseResults), wait: null },
        pauseResults.map((r) => (r.result === 'changed' ? { ...r, result: 'validated' } : r)),
      ),
    ));

  it('resume', () =>
    golden('resume', (io, f) =>
      printResults(
        io,
        f,
        'ResumeResult',
        { context: 'prod', dryRun: 'none', summary: summarize(resumeResults), wait: null },
        resumeResults,
      ),
    ));

  it('backup', () =>
    golden('backup', (io, f) =>
      printBackupRecords(io, f, { context: 'prod', storageLocation: 'aws-primary', ttl: '8760h' }, backupRecords),
    ));

  it('backup --dry-run=client', () =>
    golden('backup-dry-run-client', (io, f) => {
      const { plan, applied } = backupDryRunPlan;
      printBackupDryRun(
        io,
        f,
        { context: 'prod', storageLocation: 'aws-primary', ttl: '8760h' },
        'client',
        plan,
        applied,
      );
    }));

  it('decommission', () =>
    golden('decommission', (io, f) =>
      printDecommission(
        io,
        f,
        {
          context: 'prod',
          namespace: 'vworkspace-system',
          checks: [{ name: 'instances paused', ok: true, detail: '3 of 3 ApplicationInstances paused' }],
        },
        'decommissioned',
        cluster,
      ),
    ));

  it('purge', () =>
    golden('purge', (io, f) => {
      const persists = persistsFrom(persistsInput);
      printResults(
        io,
        f,
        'PurgeResult',
        {
          context: 'prod',
          dryRun: 'none',
          summary: summarize(purgeResults),
          plan: purgePlan,
          completed: ['step5-helm-uninstall'],
          persists,
        },
        purgeResults,
      );
      printPersists(io, persists, f);
    }));

  it('purge --report', () =>
    golden('purge-report', (io, f) => {
      const persists = persistsFrom(persistsInput);
      printPersists(io, persists, f);
      if (f === 'json' || f === 'yaml')
        printDocument(io, f, document('PurgeResult', { context: 'prod', persists }), [], [], () => '');
    }));

  it('status', () => golden('status', (io, f) => printStatus(io, judge(observedMidway, 'prod', judging), f)));
});

describe('golden output on a terminal of 80 columns: free text shortened, the whole of it below', () => {
  const onTerminal = (print: (io: ReturnType<typeof testDeps>['deps']['io']) => void) => {
    const t = testDeps({ stdoutTTY: true, columns: 80 });
    print(t.deps.io);
    return text(t.out.stdout);
  };
  it.each(['table', 'wide'] as const)('pause -o %s', (format) =>
    expectGolden(
      `pause.terminal-80.${format}.txt`,
      onTerminal((io) =>
        printResults(
          io,
          format,
          'PauseResult',
          { context: 'prod', dryRun: 'none', summary: summarize([]) },
          pauseResults,
        ),
      ),
    ),
  );
  it.each(['table', 'wide'] as const)('backup --dry-run=client -o %s', (format) =>
    expectGolden(
      `backup-dry-run-client.terminal-80.${format}.txt`,
      onTerminal((io) => {
        const { plan, applied } = backupDryRunPlan;
        printBackupDryRun(io, format, { context: 'prod', storageLocation: 'l', ttl: '8760h' }, 'client', plan, applied);
      }),
    ),
  );
});

describe('every JSON document names its apiVersion and kind', () => {
  it.each(['pause', 'backup', 'decommission', 'purge', 'status'])('%s', (name) => {
    const t = testDeps();
    if (name === 'status') printStatus(t.deps.io, judge(observedMidway, 'prod', judging), 'json');
    if (name === 'pause')
      printResults(t.deps.io, 'json', 'PauseResult', { context: 'c', dryRun: 'none', summary: summarize([]) }, []);
    if (name === 'backup') printBackupRecords(t.deps.io, 'json', { context: 'c', storageLocation: 'l', ttl: '1h' }, []);
    if (name === 'decommission')
      printDecommission(t.deps.io, 'json', { context: 'c', namespace: 'n', checks: [] }, 'already-gone');
    if (name === 'purge') printDocument(t.deps.io, 'json', document('PurgeResult', {}), [], [], () => '');
    const doc = JSON.parse(text(t.out.stdout)) as KubeObject;
    expect(doc.apiVersion).toBe('kubectl-vw/v1');
    expect(doc.kind).toMatch(/^[A-Z]\w+$/);
  });
});

describe('counts read right', () => {
  it('the purge plan says "6 Deployments", "1 Secret"', () => {
    const t = testDeps({ columns: 100 });
    const [first] = purgePlan.phases;
    printPlan(t.deps.io, {
      ...purgePlan,
      phases: [{ ...(first as (typeof purgePlan.phases)[number]), counts: { Deployment: 6, Secret: 1 } }],
    });
    expect(text(t.out.stderr)).toMatch(/deletes 6 Deployments, 1 Secret\b/);
  });
});

// As kubectl prints: a name, namespace, kind or timestamp is never broken; into a pipe a row is one
// line; on a terminal only free text is shortened (the whole of it once below) or, with -o wide, wrapped.
describe('tables with a 60-character name, into a pipe and on a terminal of 100 columns', () => {
  const long = 'customer-relationship-management-suite-production-eu-west-01';
  // Maps (the survey's storage locations) survive the round trip as tagged entries.
  const lengthen = <T>(x: T): T =>
    JSON.parse(
      JSON.stringify(x, (_k, v) => (v instanceof Map ? { __map: [...v] } : v))
        .replaceAll('web', long)
        .replaceAll('cluster-prod-1', long)
        .replaceAll('"vworkspace-operator"', `"${long}"`),
      (_k, v) => (v && typeof v === 'object' && '__map' in v ? new Map(v.__map) : v),
    );
  const screens = [
    ['a pipe', { stdoutTTY: false, columns: 100 }],
    ['a terminal', { stdoutTTY: true, columns: 100 }],
  ] as const;
  const printers: [string, (io: ReturnType<typeof testDeps>['deps']['io'], f: OutputFormat) => void][] = [
    [
      'pause',
      (io, f) =>
        printResults(
          io,
          f,
          'PauseResult',
          { context: 'p', dryRun: 'none', summary: summarize([]) },
          lengthen(pauseResults),
        ),
    ],
    [
      'backup',
      (io, f) =>
        printBackupRecords(
          io,
          f,
          { context: 'p', storageLocation: 'aws-primary', ttl: '720h' },
          lengthen(backupRecords),
        ),
    ],
    [
      'backup --dry-run',
      (io, f) => {
        const { plan, applied } = lengthen(backupDryRunPlan);
        printBackupDryRun(io, f, { context: 'p', storageLocation: 'l', ttl: '720h' }, 'client', plan, applied);
      },
    ],
    [
      'decommission',
      (io, f) =>
        printDecommission(io, f, { context: 'p', namespace: 'n', checks: [] }, 'decommissioned', lengthen(cluster)),
    ],
    [
      'purge',
      (io, f) =>
        printResults(
          io,
          f,
          'PurgeResult',
          { context: 'p', dryRun: 'none', summary: summarize([]) },
          lengthen(purgeResults),
        ),
    ],
    ['status', (io, f) => printStatus(io, judge(lengthen(observedMidway), 'p', judging), f)],
    ['purge --report', (io, f) => printPersists(io, persistsFrom(lengthen(persistsInput)), f)],
  ];
  const broken = (out: string) =>
    out.split('\n').filter((l) => (l.includes(long.slice(0, 12)) || l.includes(long.slice(-12))) && !l.includes(long));

  for (const [screen, opts] of screens)
    for (const format of ['table', 'wide'] as const)
      it.each(printers)(`%s -o ${format} into ${screen}: every name whole on one line`, (_name, print) => {
        const t = testDeps(opts);
        print(t.deps.io, format);
        const out = text(t.out.stdout);
        expect(out).toContain(long);
        expect(broken(out)).toEqual([]);
      });

  const failed: ObjectResult = {
    kind: 'ApplicationInstance',
    namespace: 'shop',
    name: 'web',
    action: 'pause',
    result: 'failed',
    message: `422 Invalid: ApplicationInstance.apps.vworkspace.io "${long}" is invalid:\n  metadata.annotations: Invalid value: ${'a value that must be shorter '.repeat(4)}\n  spec.values: Required value`,
  };
  const table = (opts: Parameters<typeof testDeps>[0], format: OutputFormat = 'table') => {
    const t = testDeps(opts);
    printResults(t.deps.io, format, 'PauseResult', { context: 'p', dryRun: 'server', summary: summarize([]) }, [
      failed,
    ]);
    return text(t.out.stdout).trimEnd().split('\n');
  };

  it('into a pipe, a row is one line whatever its length', () => {
    const lines = table({ stdoutTTY: false, columns: 100 });
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('spec.values: Required value');
  });

  it('on a terminal, a long message is shortened to one line, with the whole text once below', () => {
    const lines = table({ stdoutTTY: true, columns: 100 });
    const row = lines.find((l) => l.startsWith('shop'));
    expect(row).toMatch(/\.\.\.$/);
    expect(row?.length).toBeLessThanOrEqual(100);
    expect(lines.join(' ').match(/spec\.values: Required value/g)).toHaveLength(1);
  });

  it('on a terminal, rows that say the same long thing share one note below', () => {
    const t = testDeps({ stdoutTTY: true, columns: 100 });
    const same = ['a', 'b', 'c'].map((name) => ({ ...failed, name }));
    printResults(t.deps.io, 'table', 'PauseResult', { context: 'p', dryRun: 'none', summary: summarize([]) }, same);
    const out = text(t.out.stdout);
    expect(out.match(/spec\.values: Required value/g)).toHaveLength(1);
    expect(out).toContain('shop/applicationinstance.apps.vworkspace.io/a and 2 more (MESSAGE):');
  });

  it('with -o wide on a terminal, the message is shown whole in its column', () => {
    const lines = table({ stdoutTTY: true, columns: 100 }, 'wide');
    // Only a word longer than the column (never broken) runs past the edge.
    expect(lines.filter((l) => l.length > 100).every((l) => /\S{30,}$/.test(l))).toBe(true);
    expect(lines.join(' ')).toMatch(/spec\.values: Required\s+value/);
    expect(lines.join(' ')).not.toMatch(/\.\.\./);
  });
});
