// Table rendering at 1,000 applications, in-process, from the printers the commands use, at 100
// columns (a log or a pipe): what the terminal waits for once the cluster has answered. Each
// figure is the median of a few renders.
import { printBackupRecords } from '../../lib/cli/printers/backup';
import { printPersists } from '../../lib/cli/printers/purge';
import { printStatus } from '../../lib/cli/printers/status';
import { printResults } from '../../lib/cli/output';
import type { KubeObject } from '../../lib/kube/resources';
import type { BackupRecord } from '../../lib/steps/backup/summary';
import { persistsFrom } from '../../lib/steps/persists';
import type { ObjectResult } from '../../lib/steps/results';
import { judge } from '../../lib/steps/status/judge';
import { testDeps } from '../helpers/test-deps';
import { median, round } from './measure';

const ns = (i: number) => `tenant-${String(i % 20).padStart(2, '0')}`;
const app = (i: number) => `application-with-a-longer-name-${i}`;

function timed(render: (io: ReturnType<typeof testDeps>['deps']['io']) => void) {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const { deps } = testDeps({ columns: 100 });
    const t = performance.now();
    render(deps.io);
    times.push(performance.now() - t);
  }
  return round(median(times), 1);
}

const pauseRows = (n: number): ObjectResult[] =>
  Array.from({ length: n }, (_, i) => ({
    kind: 'ApplicationInstance',
    namespace: ns(i),
    name: app(i),
    action: i % 7 ? 'pause' : 'none',
    result: i % 7 ? 'changed' : 'unchanged',
    message: i % 7 ? undefined : 'already paused (not by kubectl-vw: resume leaves it)',
  }));

const backupRecords = (n: number): BackupRecord[] =>
  Array.from({ length: n }, (_, i) => ({
    application: app(i),
    namespace: ns(i),
    operation: `${app(i)}-final-backup`,
    action: 'create',
    result: 'changed',
    phase: i % 5 ? 'Succeeded' : 'Failed',
    reason: i % 5 ? 'BackupCompleted' : 'BackupNotSupported',
    message: i % 5 ? `velero backup velero/${ns(i)}-${app(i)} completed` : 'no backup capability',
    backup:
      i % 5
        ? { namespace: 'velero', name: `${ns(i)}-${app(i)}`, phase: 'Completed', expiration: '2027-11-27T12:00:00Z' }
        : undefined,
    outcome: i % 5 ? 'counts' : 'no-backup-capability',
    safe: i % 5 !== 0,
  }));

function persistsInput(n: number) {
  const meta = (name: string, namespace?: string, extra: Partial<KubeObject['metadata']> = {}) => ({
    name,
    namespace,
    ...extra,
  });
  const pvs = Array.from({ length: n * 1.5 }, (_, i) => ({
    metadata: meta(`pv-${ns(i)}-${app(i)}-data`),
    spec: {
      persistentVolumeReclaimPolicy: i % 3 ? 'Retain' : 'Delete',
      capacity: { storage: '5Gi' },
      storageClassName: 'csi-rbd',
      claimRef: { namespace: ns(i), name: `${app(i)}-data` },
    },
    status: { phase: 'Bound' },
  }));
  const backups = Array.from({ length: n }, (_, i) => ({
    metadata: meta(`${ns(i)}-${app(i)}-final-backup`, 'velero'),
    spec: { storageLocation: 'aws-primary' },
    status: { phase: 'Completed', expiration: '2027-11-27T12:00:00Z', completionTimestamp: '2026-11-27T12:00:00Z' },
  }));
  return {
    velero: { namespaces: ['velero'], backups, locations: new Map(), deleteRequests: [], claims: [] },
    operations: [],
    release: true,
    namespace: true,
    contents: [],
    pvs,
    clusters: [],
    instances: Array.from({ length: n }, (_, i) => ({ metadata: meta(app(i), ns(i)) })),
    helmReleases: Array.from({ length: n }, (_, i) => ({ metadata: meta(app(i), ns(i)) })),
    claims: pvs.map((p) => ({
      metadata: meta(p.spec.claimRef.name, p.spec.claimRef.namespace),
      spec: { resources: { requests: { storage: '5Gi' } } },
    })),
    kept: ['Secret/vworkspace-bootstrap-credential'],
  };
}

export function renderBench(n: number) {
  const results = pauseRows(n);
  const summary = { changed: results.length, unchanged: 0, failed: 0, planned: 0, validated: 0, skipped: 0 };
  const statusView = judge(
    {
      crds: [],
      crdsInstalled: true,
      namespace: true,
      instances: results.map((r) => ({ metadata: { name: r.name, namespace: r.namespace } })),
      operations: [],
      clusters: [],
      helmReleases: [],
      velero: { namespaces: ['velero'], backups: [], locations: new Map(), deleteRequests: [], claims: [] },
    },
    'bench',
    { now: Date.now(), marginMs: 86_400_000 },
  );
  const report = persistsFrom(persistsInput(n));
  return {
    applications: n,
    pauseMs: timed((io) =>
      printResults(io, 'table', 'PauseResult', { context: 'bench', dryRun: 'none', summary }, results),
    ),
    pauseWideMs: timed((io) =>
      printResults(io, 'wide', 'PauseResult', { context: 'bench', dryRun: 'none', summary }, results),
    ),
    backupMs: timed((io) =>
      printBackupRecords(
        io,
        'table',
        { context: 'bench', storageLocation: 'aws-primary', ttl: '8760h' },
        backupRecords(n),
      ),
    ),
    statusMs: timed((io) => printStatus(io, statusView, 'table')),
    purgeReportMs: timed((io) => printPersists(io, report, 'table')),
  };
}
