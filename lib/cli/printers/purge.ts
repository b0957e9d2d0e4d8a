import type { PersistsReport } from '../../steps/persists';
import type { PurgePlan } from '../../steps/purge/plan';
import type { OutputFormat } from '../flags';
import { type IO, paint } from '../io';
import { renderTable } from '../output';

/** The plan on stderr: the checks, then each phase with what it deletes, counted by kind. */
export function printPlan(io: IO, plan: PurgePlan) {
  for (const c of plan.checks) {
    io.err(`  ${c.ok ? paint(io, 'green', 'ok ') : paint(io, 'red', 'NO ')} ${c.name}: ${c.detail}`);
    if (!c.ok && c.fix) io.err(`      fix: ${c.fix}`);
  }
  for (const p of plan.phases) {
    const counts = Object.entries(p.counts)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ');
    io.err(
      `  ${p.done ? '[done]' : '[todo]'} ${p.title}${counts ? `: deletes ${counts}` : ''}${p.note ? ` (${p.note})` : ''}`,
    );
  }
}

/** The procedure's "What persists after uninstall" table, with this cluster's facts (tables only). */
export function printPersists(io: IO, report: PersistsReport, format: OutputFormat) {
  if (format === 'json' || format === 'yaml' || format === 'name') return;
  io.out('What persists after uninstall:');
  io.out(
    renderTable(
      report.rows,
      [
        { header: 'RESOURCE', value: (r) => r.resource },
        { header: 'PERSISTS', value: (r) => r.persists },
        { header: 'ON THIS CLUSTER', value: (r) => r.facts.join('\n') },
        { header: 'HOW TO FULLY PURGE', value: (r) => r.purge },
      ],
      io,
      false,
    ),
  );
}
