import type { LastRun, ProcedureStatus, StepStatus } from '../../steps/status/judge';
import type { OutputFormat } from '../flags';
import { type IO, paintOut } from '../io';
import { indented, labelled } from '../layout';
import { document, printDocument } from '../output';

const stateStyle: Record<StepStatus['state'], 'green' | 'yellow' | 'red' | 'dim' | 'cyan'> = {
  done: 'green',
  'in progress': 'yellow',
  blocked: 'red',
  'not started': 'dim',
  skipped: 'cyan',
};

/** "uninstall (plan sha256:...) by alice from laptop, started ..., finished ...: succeeded". */
function lastRunText(r: LastRun | null): string {
  if (!r) return 'none recorded';
  if (r.state === 'unknown') return `unknown: ${r.message ?? ''}`;
  const plan = r.planDigest ? ` (plan ${r.planDigest.slice(0, 19)})` : '';
  const when = r.finishedAt ? `started ${r.startedAt}, finished ${r.finishedAt}` : `started ${r.startedAt}`;
  const why = r.message && r.state !== 'succeeded' ? ` (${r.message})` : '';
  return `${r.command}${plan} by ${r.user} from ${r.host}, ${when}: ${r.state}${why}; see kubectl vw history`;
}

/** The status view: one line per step with its evidence, the next command, and what a reinstall needs. */
export function printStatus(io: IO, status: ProcedureStatus, format: OutputFormat) {
  if (format !== 'table' && format !== 'wide') {
    printDocument(io, format, document('ProcedureStatus', { ...status }), status.steps, [], (s) => `step/${s.step}`);
    return;
  }
  const width = io.columns;
  const lines = [`Uninstall procedure on context "${status.context}":`];
  for (const s of status.steps) {
    lines.push(`  ${s.step}. ${s.name.padEnd(32)} ${paintOut(io, stateStyle[s.state], s.state.toUpperCase())}`);
    for (const e of s.evidence) lines.push(...indented(7, e, width));
  }
  lines.push('', ...(status.next ? labelled(0, 'Next: ', status.next, width) : ['Every step is done.']));
  if (status.lastRun !== undefined) lines.push(...labelled(0, 'Last run: ', lastRunText(status.lastRun), width));
  if (status.reinstall.length) {
    lines.push('', 'For a reinstall on this cluster:');
    for (const r of status.reinstall) lines.push(...indented(2, `- ${r}`, width));
  }
  io.out(lines.join('\n'));
}
