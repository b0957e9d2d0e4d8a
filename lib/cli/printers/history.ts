import type { RunHistory, RunView } from '../../steps/journal/history';
import type { OutputFormat } from '../flags';
import { type IO, info } from '../io';
import { type Column, document, printDocument } from '../output';

/** A digest as people compare it: algorithm and the first 12 hex digits. */
export const shortDigest = (d?: string) => (d ? d.slice(0, d.indexOf(':') + 13) : '');

/** What a run did, per part: "pause 12 changed, 1 failed; backup 12 counts". */
export function countsText(counts: RunView['counts']): string {
  return Object.entries(counts ?? {})
    .map(([part, c]) => {
      const nonzero = Object.entries(c)
        .filter(([, n]) => n)
        .map(([k, n]) => `${n} ${k}`);
      return `${part} ${nonzero.join(', ') || 'nothing'}`;
    })
    .join('; ');
}

const stateText = (r: RunView) => (r.state === 'interrupted' && !r.outcome ? 'interrupted (no end recorded)' : r.state);

export const historyColumns: Column<RunView>[] = [
  { header: 'STARTED', value: (r) => `${r.startedAt.slice(0, 19)}Z` },
  { header: 'COMMAND', value: (r) => r.command },
  { header: 'USER', value: (r) => r.user.username },
  { header: 'HOST', value: (r) => r.host },
  { header: 'OUTCOME', value: stateText },
  { header: 'DID', value: (r) => countsText(r.counts), text: true },
  { header: 'PLAN', value: (r) => shortDigest(r.planDigest) },
  { header: 'FINISHED', value: (r) => r.finishedAt ?? '', wide: true },
  { header: 'CONTEXT', value: (r) => r.target.context, wide: true },
  { header: 'KUBE-SYSTEM UID', value: (r) => r.target.kubeSystemUID, wide: true },
  { header: 'EXIT', value: (r) => (r.exitCode === undefined ? '' : String(r.exitCode)), wide: true },
  { header: 'MESSAGE', value: (r) => r.message ?? r.stateReason ?? '', wide: true, text: true },
];

/** The journal, newest first: a table, or one RunHistory document; what was rolled up on stderr. */
export function printHistory(io: IO, format: OutputFormat, context: string, h: RunHistory) {
  printDocument(
    io,
    format,
    document('RunHistory', { context, items: h.items, summary: h.summary }),
    h.items,
    historyColumns,
    (r) => `run/${r.id}`,
  );
  if (format === 'json' || format === 'yaml') return;
  if (!h.items.length) info(io, 'no runs recorded yet (ConfigMap kube-system/kubectl-vw-journal)');
  const s = h.summary;
  if (s.rolledUp) {
    const runs = Object.entries(s.runs)
      .map(
        ([cmd, by]) =>
          `${cmd} ${Object.entries(by)
            .map(([o, n]) => `${n} ${o}`)
            .join(', ')}`,
      )
      .join('; ');
    info(io, `and ${s.rolledUp} older runs (${s.from} to ${s.to}), rolled up: ${runs}`);
  }
}
