import type { ActLock } from '../deps';
import { PreflightError, throwIfInterrupted } from '../errors';
import { isConflict } from '../kube/api-error';

/** Why a fresh read refuses an act: one line, and how to go on. */
export interface Refusal {
  reason: string;
  hint?: string;
}

/**
 * What a destructive act depends on. Whatever was checked before (the plan, the preflight, the
 * prompt) may have changed by the time of the act: a resume during the prompt, a Backup deleted,
 * a Cluster replaced under the same name. So the gate is read again, fresh, and judged again.
 */
export interface Gate<F> {
  /** The act, in words: "delete Cluster cluster-prod-1". */
  what: string;
  read(): Promise<F>;
  /** Why the fresh read does not allow the act; undefined when it does. */
  judge(fresh: F): Refusal | undefined;
}

/** How often an act refused by a precondition (409: the object moved on) is read and judged again. */
const conflictAttempts = 5;

/**
 * The one way kubectl vw makes a destructive change: inside the lock, from a fresh read of what
 * the change depends on, judged again at that moment, with the lock proven held right before the
 * request, and with that read's uid and resourceVersion as the request's preconditions (the act
 * gets the fresh read for that). A precondition that fails (the object moved on between the read
 * and the act) is read, judged and tried again, a few times.
 */
export async function actOnFresh<F, T>(lock: ActLock, gate: Gate<F>, act: (fresh: F) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    lock.check();
    const fresh = await gate.read();
    const refused = gate.judge(fresh);
    if (refused) throw new PreflightError(`refusing to ${gate.what}: ${refused.reason}`, refused.hint);
    await lock.confirm();
    try {
      return await act(fresh);
    } catch (err) {
      if (!isConflict(err) || attempt >= conflictAttempts) throw err;
    }
  }
}

/** A destructive request's preconditions, from the read it was judged on. */
export const preconditionsOf = (o: { metadata: { uid?: string; resourceVersion?: string } }) => ({
  uid: o.metadata.uid,
  resourceVersion: o.metadata.resourceVersion,
});

/** No lock (a dry run): nothing destructive happens, so confirming is only checking for Ctrl-C. */
export const unlocked = (signal: AbortSignal): ActLock => ({
  signal,
  check: () => throwIfInterrupted(signal),
  confirm: async () => throwIfInterrupted(signal),
});

/**
 * A gate with a judgement added (an approved plan's: "this is the object the plan names"), made
 * on the same fresh read, at the same moment, and with a read of its own when it needs one: one
 * gate, judged once more, never a second mechanism beside it.
 */
export function alsoJudged<F, E = undefined>(
  gate: Gate<F>,
  extra: { read?: () => Promise<E>; judge: (fresh: F, own: E) => Refusal | undefined } | undefined,
): Gate<F> {
  if (!extra) return gate;
  let own: E;
  return {
    what: gate.what,
    read: async () => {
      const [fresh, mine] = await Promise.all([gate.read(), extra.read?.()]);
      own = mine as E;
      return fresh;
    },
    judge: (fresh) => gate.judge(fresh) ?? extra.judge(fresh, own),
  };
}
