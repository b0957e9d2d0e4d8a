import { readFile } from 'node:fs/promises';
import type { ActLock, Deps, Session, StepDeps } from '../deps';
import { throwIfInterrupted, UsageError } from '../errors';
import type { KubeClient } from '../kube/client';
import type { KubeTarget } from '../kube/config';
import { defaultLockSettings, LeaseLock } from '../kube/lease';
import { lockLeaseName, toolNamespace } from '../operator/names';
import { parseNamesText, resolveSelection, type Selection, type SelectionInput } from '../steps/selection';
import { ioReporter } from './io';

/** What a step gets from the command's Deps: the client, time, the stop signal and narration. */
export const stepDeps = (deps: Deps, client: KubeClient, signal: AbortSignal = deps.signal): StepDeps => ({
  client,
  clock: deps.clock,
  signal,
  report: ioReporter(deps.io, deps.clock),
});

/** A lock seen through the run's own signal too: Ctrl-C stops its body as a lost lock does. */
function alsoInterrupted(lock: ActLock, signal: AbortSignal): ActLock {
  const both = AbortSignal.any([signal, lock.signal]);
  return {
    signal: both,
    check: () => {
      lock.check();
      throwIfInterrupted(both);
    },
    confirm: async () => {
      throwIfInterrupted(signal);
      await lock.confirm();
    },
  };
}

/**
 * Runs body holding the lock, so no two mutating runs overlap. Body gets the lock: its signal
 * aborts on Ctrl-C and when the lock is lost, and confirm() proves it held right before an act.
 * The lock is released however body ends. No body starts under a lock already lost.
 */
export async function withLock<T>(
  deps: Deps,
  session: Session,
  purpose: string,
  body: (lock: ActLock) => Promise<T>,
): Promise<T> {
  if (deps.heldLock) {
    deps.heldLock.check();
    return body(alsoInterrupted(deps.heldLock, deps.signal));
  }
  const report = ioReporter(deps.io, deps.clock);
  // From here on the run may act: its start goes in the journal first (a warning if it cannot).
  await deps.journal?.begin(session.client);
  const lock = new LeaseLock(
    session.client,
    { namespace: toolNamespace, name: lockLeaseName, ...defaultLockSettings },
    deps.clock,
    deps.env,
    purpose,
    deps.journal?.runId,
  );
  const held = await lock.acquire(deps.signal, (holder, ms) =>
    report.info(
      `another run (${holder}) holds the lock Lease ${toolNamespace}/${lockLeaseName}; watching it for up to ${Math.ceil(ms / 1000)}s to see whether it is still alive`,
    ),
  );
  report.debug(`holding Lease ${toolNamespace}/${lockLeaseName} as ${held.holder}`);
  try {
    return await body(alsoInterrupted(held, deps.signal));
  } finally {
    await held.release();
  }
}

/** Names from -f FILE or -f - (stdin, however slowly it is written), then the whole selection. */
export async function readSelection(input: SelectionInput, target: KubeTarget, deps: Deps): Promise<Selection> {
  let text = '';
  if (input.filename === '-') text = await deps.io.readStdin();
  else if (input.filename) {
    text = await readFile(input.filename, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read -f ${input.filename}: ${err.code ?? err.message}`);
    });
  }
  return resolveSelection(input, parseNamesText(text), target.namespace, target.namespaceExplicit);
}
