import type { Difference } from '../../steps/plan-file/drift';
import { differenceLine } from '../../steps/plan-file/drift';
import type { PlannedApplication, UninstallPlan } from '../../steps/plan-file/document';
import type { ObjectResult } from '../../steps/results';
import type { OutputFormat } from '../flags';
import { type IO, paintOut } from '../io';
import { indented } from '../layout';
import { type Column, nameOf, printDocument, resultColumns } from '../output';
import { printPersists } from './purge';

/** One planned act, as the commands' own result rows have it, with the step it belongs to. */
export interface PlanRow extends ObjectResult {
  step: string;
  /** The object's uid, as the plan names it (-o wide). */
  uid?: string;
}

const planned = (action: string): ObjectResult['result'] =>
  action === 'none' || action === 'keep' ? 'unchanged' : 'planned';

function backupRow(a: PlannedApplication): PlanRow {
  const b = a.finalBackup;
  const counts = b.veleroBackup
    ? `; counts: Velero backup ${b.veleroBackup.name}${b.veleroBackup.expires ? `, expires ${b.veleroBackup.expires}` : ''}`
    : '';
  return {
    step: '2',
    kind: 'Operation',
    namespace: a.namespace,
    name: b.operation || `(${a.name})`,
    action: b.action,
    result: b.action === 'skip' ? 'unchanged' : planned(b.action),
    uid: b.operationUID,
    message: `${b.state}${b.note ? `: ${b.note}` : ''}${counts}`,
  };
}

/** "Kind/namespace/name" or "Kind/name", as a plan lists what helm uninstall deletes and keeps. */
function releaseObjectRow(text: string, keep: boolean): PlanRow {
  const [kind = '', ...rest] = text.split('/');
  const name = rest.pop() ?? '';
  return {
    step: '5',
    kind,
    namespace: rest[0],
    name,
    action: keep ? 'keep' : 'delete',
    result: keep ? 'unchanged' : 'planned',
    message: keep ? 'kept by helm uninstall (helm.sh/resource-policy: keep)' : 'by helm uninstall',
  };
}

/** A row for one object the plan acts on, by uid. */
const row = (
  step: string,
  kind: string,
  o: { namespace?: string; name: string; uid?: string },
  action: string,
  message?: string,
): PlanRow => ({
  step,
  kind,
  namespace: o.namespace,
  name: o.name,
  action,
  result: planned(action),
  uid: o.uid,
  ...(message ? { message } : {}),
});

function releaseRows(r: NonNullable<UninstallPlan['actions']['release']>): PlanRow[] {
  return [
    {
      ...row('5', 'Release', { ...r, uid: r.storageUID ?? undefined }, 'uninstall'),
      message: `revision ${r.revision} (${r.chart}, ${r.status}, in ${r.driver}s)`,
    },
    ...r.deletes.map((x) => releaseObjectRow(x, false)),
    ...r.keeps.map((x) => releaseObjectRow(x, true)),
  ];
}

/** Every planned act, step by step, in the rows every mutating command prints. */
export function planRows(p: UninstallPlan): PlanRow[] {
  const a = p.actions;
  return [
    ...a.applications.map((x) => row('1', 'ApplicationInstance', x, x.pause, x.pauseNote)),
    ...a.helmReleases.map((x) => row('1', 'HelmRelease', x, x.action ?? 'suspend')),
    ...(p.options.skipBackup ? [] : a.applications.map(backupRow)),
    ...(a.cluster
      ? [row('3', 'Cluster', a.cluster, a.cluster.action, `cluster ID ${a.cluster.clusterID ?? 'unknown'}`)]
      : []),
    ...a.applications.filter((x) => x.delete).map((x) => row('4', 'ApplicationInstance', x, 'delete')),
    ...a.operations.map((x) => row('4', 'Operation', x, 'delete')),
    ...(a.release ? releaseRows(a.release) : []),
    ...a.crds.map((x) => row('5', 'CustomResourceDefinition', x, 'delete')),
    ...(a.namespace ? [row('5', 'Namespace', a.namespace, 'delete')] : []),
  ];
}

const planColumns: Column<PlanRow>[] = [
  { header: 'STEP', value: (r) => r.step },
  ...resultColumns('client'),
  { header: 'UID', value: (r) => r.uid ?? '', wide: true },
];

const flagsText = (p: UninstallPlan) => {
  const o = p.options;
  const on = (b: boolean, f: string) => (b ? [f] : []);
  return [
    ...(o.skipBackup ? ['--skip-backup'] : [`--ttl ${o.ttl}`, `--storage-location ${o.storageLocation}`]),
    `--expiry-margin ${o.expiryMargin}`,
    `--velero-namespace ${o.veleroNamespace}`,
    ...(o.deleteReleaseCrds.length ? [`--delete-release-crds ${o.deleteReleaseCrds.join(',')}`] : []),
    ...on(o.allowShortTtl, '--allow-short-ttl'),
    ...on(o.suspendHelmReleases, '--suspend-helmreleases'),
    ...on(o.deleteApps, '--delete-apps'),
    ...on(o.deleteCrds, '--delete-crds'),
    ...on(o.deleteNamespace, '--delete-namespace'),
  ].join(' ');
};

/** Who made the plan, for which cluster, with which options: what a reviewer reads first. */
export function planHeader(p: UninstallPlan): string[] {
  const t = p.target;
  return [
    `Plan ${p.digest}`,
    `  made ${p.metadata.createdAt} by ${p.metadata.createdBy || 'unknown'} with kubectl-vw ${p.metadata.tool}`,
    `  cluster: context "${t.context}", server ${t.server}, kube-system uid ${t.kubeSystemUID}, CA sha256 ${t.caSHA256 ?? 'none'}`,
    `  Cluster CR: ${t.cluster ? `uid ${t.cluster.uid}, cluster ID ${t.cluster.clusterID ?? 'unknown'}` : 'none (step 3 done)'}`,
    `  options: ${flagsText(p)}`,
    `  steps when planned: ${p.steps.map((s) => `${s.step} ${s.state}`).join(', ')}`,
  ];
}

/** The plan for review: the header, the planned acts as result rows, what persists, the warnings. */
export function printPlan(io: IO, format: OutputFormat, p: UninstallPlan) {
  const rows = planRows(p);
  if (format === 'json' || format === 'yaml' || format === 'name') {
    printDocument(io, format, p, rows, planColumns, (r) => nameOf(r.kind, r.name));
    return;
  }
  io.out(planHeader(p).join('\n'));
  io.out('');
  printDocument(io, format, p, rows, planColumns, (r) => nameOf(r.kind, r.name));
  io.out('');
  printPersists(io, { rows: p.persists.map((r) => ({ ...r, id: r.resource, objects: [], facts: r.here })) }, format);
  if (p.warnings.length) {
    io.out(`\n${paintOut(io, 'yellow', 'Warnings')} (what will stop the run, as the cluster stood):`);
    for (const w of p.warnings) io.out(indented(2, `- ${w}`, io.columns).join('\n'));
  }
}

/** The differences between a plan and the cluster now, one per line. */
export function printDifferences(io: IO, diffs: Difference[], write: (line: string) => void) {
  for (const d of diffs) for (const l of indented(2, differenceLine(d), io.columns, 4)) write(l);
}
