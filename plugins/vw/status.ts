import type { Argv, CommandModule } from 'yargs';
import { ExitCode } from '../../lib/errors';
import { type GlobalArgs, withGlobalFlags } from '../../lib/cli/flags';
import { type IO, paintOut, processIO } from '../../lib/cli/io';
import { printDocument } from '../../lib/cli/output';
import { runAndExit } from '../../lib/cli/run';
import { openSession } from '../../lib/cli/session';
import { type ProcedureStatus, procedureStatus, type StepStatus } from '../../lib/steps/status';

const stateStyle: Record<StepStatus['state'], 'green' | 'yellow' | 'red' | 'dim' | 'cyan'> = {
  done: 'green',
  'in progress': 'yellow',
  blocked: 'red',
  'not started': 'dim',
  skipped: 'cyan',
};

export function printStatus(io: IO, status: ProcedureStatus, format: GlobalArgs['output']) {
  const doc = { apiVersion: 'kubectl-vw.vworkspace.io/v1alpha1', kind: 'ProcedureStatus', ...status };
  if (format !== 'table' && format !== 'wide') {
    printDocument(io, format, doc, status.steps, [], (s) => `step/${s.step}`);
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

export const statusCommand: CommandModule<object, GlobalArgs> = {
  command: 'status',
  describe: 'Where this cluster stands in the five steps, with the evidence, and the next command to run',
  builder: (y: Argv) =>
    withGlobalFlags(y)
      .example('kubectl vw status', 'The state of each step on the current context')
      .example(
        'kubectl vw status -o json | jq -r \'.steps[] | select(.state != "done") | .name\'',
        'Steps not done yet',
      ) as unknown as Argv<GlobalArgs>,
  handler: (args) =>
    runAndExit(processIO({ verbose: args.verbose }), async () => {
      const { client, io } = openSession(args);
      printStatus(io, await procedureStatus(client), args.output);
      return ExitCode.ok;
    }),
};
