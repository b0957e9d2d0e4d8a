import type { ProcedureStatus, StepStatus } from '../../steps/status/judge';
import type { OutputFormat } from '../flags';
import { type IO, paintOut } from '../io';
import { document, printDocument } from '../output';

const stateStyle: Record<StepStatus['state'], 'green' | 'yellow' | 'red' | 'dim' | 'cyan'> = {
  done: 'green',
  'in progress': 'yellow',
  blocked: 'red',
  'not started': 'dim',
  skipped: 'cyan',
};

/** The status view: one line per step with its evidence, the next command, and what a reinstall needs. */
export function printStatus(io: IO, status: ProcedureStatus, format: OutputFormat) {
  if (format !== 'table' && format !== 'wide') {
    printDocument(io, format, document('ProcedureStatus', { ...status }), status.steps, [], (s) => `step/${s.step}`);
    return;
  }
  io.out(`Uninstall procedure on context "${status.context}":`);
  for (const s of status.steps) {
    io.out(`  ${s.step}. ${s.name.padEnd(32)} ${paintOut(io, stateStyle[s.state], s.state.toUpperCase())}`);
    for (const e of s.evidence) io.out(`       ${e}`);
  }
  if (status.next) io.out(`\nNext: ${status.next}`);
  else io.out('\nEvery step is done.');
  if (status.reinstall.length) {
    io.out('\nFor a reinstall on this cluster:');
    for (const r of status.reinstall) io.out(`  - ${r}`);
  }
}
