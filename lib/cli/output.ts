import Table from 'cli-table3';
import yaml from 'js-yaml';
import type { OutputFormat } from './flags';
import { type IO, paintOut } from './io';

/** One row per object a mutating command touched: what was decided and what happened. */
export interface ObjectResult {
  kind: string;
  namespace?: string;
  name: string;
  /** What the plan wanted: e.g. pause, suspend, none. */
  action: string;
  /** changed | unchanged | failed | planned (client dry-run) | validated (server dry-run). */
  result: 'changed' | 'unchanged' | 'failed' | 'planned' | 'validated';
  message?: string;
}

export interface Column<T> {
  header: string;
  value: (row: T) => string;
  /** Only shown with -o wide. */
  wide?: boolean;
}

export function renderTable<T>(rows: T[], columns: Column<T>[], io: IO, wide: boolean): string {
  const cols = columns.filter((c) => wide || !c.wide);
  // kubectl-style: no borders, upper-case headers, two spaces between columns.
  const table = new Table({
    head: cols.map((c) => paintOut(io, 'bold', c.header)),
    chars: {
      top: '',
      'top-mid': '',
      'top-left': '',
      'top-right': '',
      bottom: '',
      'bottom-mid': '',
      'bottom-left': '',
      'bottom-right': '',
      left: '',
      'left-mid': '',
      mid: '',
      'mid-mid': '',
      right: '',
      'right-mid': '',
      middle: '  ',
    },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  for (const row of rows) table.push(cols.map((c) => c.value(row)));
  return table
    .toString()
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n');
}

const kindGroup: Record<string, string> = {
  ApplicationInstance: 'applicationinstance.apps.vworkspace.io',
  Operation: 'operation.ops.vworkspace.io',
  Cluster: 'cluster.ops.vworkspace.io',
  HelmRelease: 'helmrelease.helm.toolkit.fluxcd.io',
  Backup: 'backup.velero.io',
  CustomResourceDefinition: 'customresourcedefinition.apiextensions.k8s.io',
  Deployment: 'deployment.apps',
};

/** `kubectl get -o name` form, which `-f -` reads back. */
export const nameOf = (kind: string, name: string) => `${kindGroup[kind] ?? kind.toLowerCase()}/${name}`;

export function resultColumns(): Column<ObjectResult>[] {
  return [
    { header: 'NAMESPACE', value: (r) => r.namespace ?? '' },
    { header: 'KIND', value: (r) => r.kind },
    { header: 'NAME', value: (r) => r.name },
    { header: 'ACTION', value: (r) => r.action },
    { header: 'RESULT', value: (r) => r.result },
    { header: 'MESSAGE', value: (r) => r.message ?? '' },
  ];
}

/**
 * Prints a document for -o json|yaml, rows for table|wide, names for -o name. The JSON shape is
 * a contract for scripts: `kind`, then the fields the caller passes, never reordered by format.
 */
export function printDocument<T>(
  io: IO,
  format: OutputFormat,
  doc: Record<string, unknown>,
  rows: T[],
  columns: Column<T>[],
  nameOfRow: (row: T) => string,
) {
  switch (format) {
    case 'json':
      io.out(JSON.stringify(doc, null, 2));
      return;
    case 'yaml':
      io.out(yaml.dump(doc, { noRefs: true, lineWidth: -1 }));
      return;
    case 'name':
      for (const r of rows) io.out(nameOfRow(r));
      return;
    default:
      if (rows.length) io.out(renderTable(rows, columns, io, format === 'wide'));
  }
}

export function summarize(results: ObjectResult[]) {
  const counts = { changed: 0, unchanged: 0, failed: 0, planned: 0, validated: 0 };
  for (const r of results) counts[r.result]++;
  return counts;
}
