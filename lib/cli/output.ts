import yaml from 'js-yaml';
import type { DryRunMode, ObjectResult, ResultCounts } from '../steps/results';
import type { OutputFormat } from './flags';
import { type IO, paintOut } from './io';
import { indented, visibleLength, wrap } from './layout';

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
/** A cell is one line: a multi-line message (a 422's field errors) reads on with spaces. */
const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();
/** Free text too long for its column: cut, with a mark that more follows below the table. */
const shorten = (s: string, width: number) =>
  visibleLength(s) <= width ? s : `${s.slice(0, Math.max(0, width - 3))}...`;

/** Free text is never given less than this on a terminal: a row may then run past the edge. */
const minTextWidth = 16;

/**
 * The widths of a table on a screen `room` wide: names, namespaces, kinds and timestamps keep
 * their whole width; only free-text columns give up what the row lacks, shared between them.
 */
function textWidths(natural: number[], text: boolean[], room: number, wide: boolean): number[] {
  const gaps = 2 * Math.max(0, natural.length - 1);
  const total = natural.reduce((a, b) => a + b, 0) + gaps;
  const texts = text.filter(Boolean).length;
  if (total <= room || !texts) return natural;
  const fixed = natural.reduce((a, w, i) => a + (text[i] ? 0 : w), 0) + gaps;
  const left = Math.floor((room - fixed) / texts);
  // Names alone fill the screen: -o wide keeps the text whole on its line (it runs on, as the
  // names do) rather than wrap it in a sliver past the edge; a table still shortens it.
  if (left < minTextWidth && wide) return natural;
  const share = Math.max(minTextWidth, left);
  return natural.map((w, i) => (text[i] ? Math.min(w, share) : w));
}

/**
 * kubectl-style columns: no borders, upper-case headers, two spaces between columns. A name, a
 * namespace, a kind or a timestamp is never broken. Into a pipe or a file a row is one line,
 * whatever its length. On a terminal (io.outInteractive) only free text gives way to fit
 * io.columns: shortened to one line with the whole text once below the table, or, with -o wide,
 * wrapped in its column. Linear in the number of rows: widths are measured once.
 */
export function renderTable<T>(
  rows: readonly T[],
  columns: Column<T>[],
  io: IO,
  wide: boolean,
  labelOf?: (row: T) => string,
): string {
  const cols = columns.filter((c) => wide || !c.wide);
  const raw = rows.map((r) => cols.map((c) => oneLine(c.value(r))));
  const natural = cols.map((c, i) => Math.max(c.header.length, ...raw.map((row) => visibleLength(row[i] ?? ''))));
  const text = cols.map((c) => Boolean(c.text));
  const widths = io.outInteractive ? textWidths(natural, text, io.columns, wide) : natural;
  // The whole of each shortened text, once: rows that say the same thing share one note.
  const notes = new Map<string, string[]>();
  const cells = raw.map((row, r) =>
    row.map((cell, i) => {
      const width = widths[i] ?? 0;
      if (!text[i] || visibleLength(cell) <= width) return [cell];
      if (wide) return wrap(cell, width);
      const label = labelOf?.(rows[r] as T) ?? row.filter((_, j) => !text[j]).join(' ');
      const key = `${cols[i]?.header}\n${cols[i]?.value(rows[r] as T) ?? cell}`;
      notes.set(key, [...(notes.get(key) ?? []), label]);
      return [shorten(cell, width)];
    }),
  );
  const header = cols.map((c) => [paintOut(io, 'bold', c.header)]);
  const lines: string[] = [];
  for (const row of [header, ...cells]) {
    const height = Math.max(...row.map((cell) => cell.length));
    for (let l = 0; l < height; l++)
      lines.push(
        row
          .map((cell, i) => pad(cell[l] ?? '', widths[i] ?? 0))
          .join('  ')
          .trimEnd(),
      );
  }
  return [...lines, ...noteLines(notes, io.columns)].join('\n');
}

/** Below a table: each shortened text whole, its own line breaks kept (a 422 lists one field error a line). */
function noteLines(notes: Map<string, string[]>, width: number): string[] {
  return [...notes].flatMap(([key, labels]) => {
    const [header, ...text] = key.split('\n');
    const who = labels.length > 1 ? `${labels[0]} and ${labels.length - 1} more` : labels[0];
    return ['', `${who} (${header}):`, ...text.flatMap((l) => indented(2, l.trim(), width))];
  });
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
  labelOfRow: (row: T) => string = nameOfRow,
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
      if (rows.length) io.out(renderTable(rows, columns, io, format === 'wide', labelOfRow));
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
    // NAMESPACE/KIND/NAME: what the whole text below a table is about, as -f reads it back.
    (r) => `${r.namespace ? `${r.namespace}/` : ''}${nameOf(r.kind, r.name)}`,
  );
}
