import type { OutputFormat } from '../../lib/cli/flags';
import { printResults } from '../../lib/cli/output';
import { printBackupDryRun, printBackupRecords } from '../../lib/cli/printers/backup';
import { printDecommission } from '../../lib/cli/printers/decommission';
import { printPersists, printPlan } from '../../lib/cli/printers/purge';
import { printStatus } from '../../lib/cli/printers/status';
import { printDocument, document } from '../../lib/cli/output';
import type { KubeObject } from '../../lib/kube/resources';
import { persistsFrom } from '../../lib/steps/persists';
import { summarize } from '../../lib/steps/results';
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
