import type { PersistsReport } from '../../steps/persists';
import type { PreflightCheck } from '../../steps/preflight';
import type { PurgePlan } from '../../steps/purge/plan';
import type { OutputFormat } from '../flags';
import { type IO, paint, paintOut, plural } from '../io';
import { indented, labelled, summarise } from '../layout';

/** Diagnostics wrap on a terminal only: into a log each stays one line to grep. */
const errWidth = (io: IO) => io.errColumns ?? Number.POSITIVE_INFINITY;

/** The plan on stderr, wrapped to the screen: the checks, then each phase with what it deletes. */
export function printPlan(io: IO, plan: PurgePlan) {
  printChecks(io, plan.checks);
  for (const p of plan.phases) {
    const counts = Object.entries(p.counts)
      .map(([k, n]) => plural(n, k))
      .join(', ');
    const text = `${p.done ? '[done]' : '[todo]'} ${p.title}${counts ? `: deletes ${counts}` : ''}${p.note ? ` (${p.note})` : ''}`;
    for (const l of indented(2, text, errWidth(io), 7)) io.err(l);
  }
}

/** Preflight checks, one per line (wrapped), each failed one with the command that fixes it. */
export function printChecks(io: IO, checks: PreflightCheck[]) {
  for (const c of checks) {
    const mark = c.ok ? paint(io, 'green', 'ok ') : paint(io, 'red', 'NO ');
    const lines = indented(2, `${c.ok ? 'ok ' : 'NO '} ${c.name}: ${c.detail}`, errWidth(io), 4);
    lines.forEach((l, i) => {
      io.err(i ? l : l.replace(/^( {2})(ok |NO )/, `$1${mark}`));
    });
    if (!c.ok && c.fix) for (const l of indented(6, `fix: ${c.fix}`, errWidth(io), 5)) io.err(l);
    if (c.warning) for (const l of indented(6, `warning: ${c.warning}`, errWidth(io), 9)) io.err(l);
  }
}

/**
 * The procedure's "What persists after uninstall", one block per resource as kubectl describe
 * lays things out, wrapped to the screen; long lists summarised (all of them with -o wide).
 */
export function printPersists(io: IO, report: Pick<PersistsReport, 'rows'>, format: OutputFormat) {
  if (format === 'json' || format === 'yaml' || format === 'name') return;
  const width = io.columns;
  const lines = ['What persists after uninstall:'];
  for (const r of report.rows) {
    const here = [...r.facts, ...(r.items ? [summarise(r.items.list, r.items.noun, format === 'wide')] : [])];
    lines.push('', paintOut(io, 'bold', r.resource));
    lines.push(...labelled(2, 'Persists:', r.persists, width, 11));
    here.forEach((f, i) => {
      lines.push(...labelled(2, i ? '' : 'Here:', f, width, 11));
    });
    lines.push(...labelled(2, 'To purge:', r.purge, width, 11));
  }
  io.out(lines.join('\n'));
}
