import yaml from 'js-yaml';
import type { DryRunMode, ObjectResult, ResultCounts } from '../steps/results';
import type { OutputFormat } from './flags';
import { type IO, paintOut } from './io';
import { fitWidths, labelled, visibleLength, wrap } from './layout';

/** Every -o json|yaml document carries this apiVersion and a kind: scripts can rely on both. */
export const documentApiVersion = 'kubectl-vw/v1';

export interface Column<T> {
  header: string;
  value: (row: T) => string;
  /** Only shown with -o wide. */
  wide?: boolean;
  /** Free text (messages, hints): wrapped first when the table is wider than the screen. */
  text?: boolean;
}

const pad = (s: string, width: number) => s + ' '.repeat(Math.max(0, width - visibleLength(s)));

/**
 * kubectl-style columns: no borders, upper-case headers, two spaces between columns. Cells may
 * hold several lines. The table fits the screen (io.columns): free-text columns wrap first, then
 * the widest. Linear in the number of rows and lines: widths are measured once, then each line is
 * padded (cli-table3's layout took minutes on a few hundred multi-line rows).
 */
export function renderTable<T>(rows: readonly T[], columns: Column<T>[], io: IO, wide: boolean): string {
  const cols = columns.filter((c) => wide || !c.wide);
  const raw = rows.map((r) => cols.map((c) => c.value(r)));
  const natural = cols.map((c, i) =>
    Math.max(c.header.length, ...raw.map((row) => Math.max(...(row[i] ?? '').split('\n').map(visibleLength)))),
  );
  const widths = fitWidths(
    natural,
    cols.map((c) => Boolean(c.text)),
    io.columns,
  );
  if (!widths) return renderBlocks(raw, cols, io);
  const cells = raw.map((row) => row.map((cell, i) => wrap(cell, widths[i] ?? 1)));
  // Headers wrap too when a column had to be narrower than its name.
  const header = cols.map((c, i) => wrap(c.header, widths[i] ?? 1).map((h) => paintOut(io, 'bold', h)));
  const lines: string[] = [];
  for (const row of [header, ...cells]) {
    const height = Math.max(...row.map((cell) => cell.length));
    for (let l = 0; l < height; l++) {
      lines.push(
        row
          .map((cell, i) => pad(cell[l] ?? '', widths[i] ?? 0))
          .join('  ')
          .trimEnd(),
      );
    }
  }
  return lines.join('\n');
}

/**
 * Rows too wide for the screen even with wrapping, as kubectl describe lays things out: one block
 * per row, a line per column, values wrapped.
 */
function renderBlocks<T>(raw: string[][], cols: Column<T>[], io: IO): string {
  const label = Math.max(...cols.map((c) => c.header.length)) + 2;
  const lines: string[] = [];
  raw.forEach((row, r) => {
    if (r) lines.push('');
    cols.forEach((c, i) => {
      const value = row[i] ?? '';
      if (value) lines.push(...labelled(0, `${c.header}:`, value, io.columns, label));
    });
  });
  return lines.join('\n');
}

const kindGroup: Record<string, string> = {
  ApplicationInstance: 'applicationinstance.apps.vworkspace.io',
  Operation: 'operation.ops.vworkspace.io',
  Cluster: 'cluster.ops.vworkspace.io',
  HelmRelease: 'helmrelease.helm.toolkit.fluxcd.io',
  Backup: 'backup.velero.io',
  CustomResourceDefinition: 'customresourcedefinition.apiextensions.k8s.io',
  Deployment: 'deployment.apps',
  Namespace: 'namespace',
  Secret: 'secret',
  ServiceAccount: 'serviceaccount',
  ConfigMap: 'configmap',
};

/** `kubectl get -o name` form, which `-f -` reads back. */
export const nameOf = (kind: string, name: string) => `${kindGroup[kind] ?? kind.toLowerCase()}/${name}`;

/** kubectl marks what a dry run prints: "(dry run)" or "(server dry run)". */
export const dryRunMark = (mode: DryRunMode) =>
  mode === 'client' ? ' (dry run)' : mode === 'server' ? ' (server dry run)' : '';

const pastTense: Record<string, string> = {
  pause: 'paused',
  suspend: 'suspended',
  resume: 'resumed',
  unsuspend: 'unsuspended',
  forget: 'marker cleared',
  delete: 'deleted',
  create: 'created',
};

/** What happened, in words: a change says what it did ("deleted"); JSON keeps the plain state. */
export const resultText = (r: ObjectResult, dryRun: DryRunMode) =>
  r.result === 'changed'
    ? (pastTense[r.action] ?? 'changed')
    : `${r.result}${r.result === 'unchanged' ? '' : dryRunMark(dryRun)}`;

export function resultColumns(dryRun: DryRunMode): Column<ObjectResult>[] {
  return [
    { header: 'NAMESPACE', value: (r) => r.namespace ?? '' },
    { header: 'KIND', value: (r) => r.kind },
    { header: 'NAME', value: (r) => r.name },
    { header: 'ACTION', value: (r) => r.action },
    { header: 'RESULT', value: (r) => resultText(r, dryRun) },
    { header: 'MESSAGE', value: (r) => r.message ?? '', text: true },
  ];
}

/** The envelope of every document: apiVersion, kind, then the fields the caller passes, in order. */
export const document = (kind: string, fields: Record<string, unknown>) => ({
  apiVersion: documentApiVersion,
  kind,
  ...fields,
});

/**
 * Prints a document for -o json|yaml, rows for table|wide, names for -o name. The JSON shape is
 * a contract for scripts, never reordered by format.
 */
export function printDocument<T>(
  io: IO,
  format: OutputFormat,
  doc: Record<string, unknown>,
  rows: readonly T[],
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

/** One row per object touched, in every format; the summary and dry-run mode ride in the document. */
export function printResults(
  io: IO,
  format: OutputFormat,
  kind: string,
  fields: { context: string; dryRun: DryRunMode; summary: ResultCounts } & Record<string, unknown>,
  results: readonly ObjectResult[],
) {
  printDocument(
    io,
    format,
    document(kind, { ...fields, items: results }),
    results,
    resultColumns(fields.dryRun),
    (r) => `${nameOf(r.kind, r.name)}`,
  );
}
