import { sleep } from '../../concurrency';
import { isConflict } from '../../kube/api-error';
import type { KubeClient } from '../../kube/client';
import { core, resourcePath } from '../../kube/resources';
import { journalName, toolNamespace } from '../../operator/names';
import { emptySummary, entryKey, isEntryKey, type JournalEntry, type JournalSummary, rollInto } from './entry';

/**
 * The journal's bounds: the newest 100 runs in full, each at most 4 KiB, the older ones rolled
 * into a summary. At most about 410 KiB, well inside a ConfigMap's 1 MiB.
 */
export const journalBounds = { maxEntries: 100, maxEntryBytes: 4096 };

export interface Journal {
  /** Newest first. */
  entries: JournalEntry[];
  summary: JournalSummary;
}

const parse = <T>(text: string | undefined): T | undefined => {
  try {
    return text ? (JSON.parse(text) as T) : undefined;
  } catch {
    return undefined; // an entry someone mangled by hand is left out, never fatal
  }
};

/** The journal as stored; empty when there is none yet. */
export async function readJournal(client: KubeClient): Promise<Journal> {
  const cm = await client.find(core.configMaps, journalName, toolNamespace);
  const data = (cm?.data ?? {}) as Record<string, string>;
  const entries = Object.keys(data)
    .filter(isEntryKey)
    .sort()
    .reverse()
    .map((k) => parse<JournalEntry>(data[k]))
    .filter((e): e is JournalEntry => Boolean(e));
  return { entries, summary: parse<JournalSummary>(data.summary) ?? emptySummary() };
}

/** Long lists and texts shortened, so one run's entry stays within its share of the journal. */
function compact(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (_k, v: unknown) => {
      if (Array.isArray(v) && v.length > 20) return [...v.slice(0, 20), `... and ${v.length - 20} more`];
      if (typeof v === 'string' && v.length > 256) return `${v.slice(0, 256)}...`;
      return v;
    }),
  );
}

/** The entry as stored: within maxEntryBytes, whatever its options held. */
export function fitEntry(e: JournalEntry, maxBytes = journalBounds.maxEntryBytes): string {
  let fitted: JournalEntry = { ...e, options: compact(e.options) as Record<string, unknown> };
  if (fitted.message && fitted.message.length > 512)
    fitted = { ...fitted, message: `${fitted.message.slice(0, 512)}...` };
  let text = JSON.stringify(fitted);
  if (Buffer.byteLength(text) > maxBytes) {
    fitted = { ...fitted, options: { omitted: 'too long for the journal' }, counts: undefined };
    text = JSON.stringify(fitted);
  }
  return text;
}

/** The change to the journal's data that writes this entry and rolls the oldest ones into the summary. */
function changeFor(data: Record<string, string>, entry: JournalEntry, maxEntries: number) {
  const key = entryKey(entry);
  const patch: Record<string, string | null> = { [key]: fitEntry(entry) };
  const others = Object.keys(data)
    .filter((k) => isEntryKey(k) && k !== key)
    .sort();
  const excess = others.length + 1 - maxEntries;
  if (excess <= 0) return patch;
  let summary = parse<JournalSummary>(data.summary) ?? emptySummary();
  for (const k of others.slice(0, excess)) {
    const old = parse<JournalEntry>(data[k]);
    if (old) summary = rollInto(summary, old);
    patch[k] = null;
  }
  patch.summary = JSON.stringify(summary);
  return patch;
}

/**
 * Creates the empty journal by server-side apply: every write of the journal goes to its one
 * path, and a create racing another run's is no error.
 */
async function createJournal(client: KubeClient) {
  await client.request('PATCH', resourcePath(core.configMaps, { namespace: toolNamespace, name: journalName }), {
    contentType: 'application/apply-patch+yaml',
    body: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: journalName,
        namespace: toolNamespace,
        labels: { 'app.kubernetes.io/managed-by': 'kubectl-vw' },
      },
    },
  });
}

/**
 * Writes one entry (new, or its end), with optimistic concurrency: each patch carries the
 * resourceVersion it was computed from, so a concurrent writer turns it into a 409, and it is
 * read and computed again. No writer's entry is lost.
 */
export async function writeEntry(
  client: KubeClient,
  entry: JournalEntry,
  opts: { maxEntries?: number; attempts?: number } = {},
): Promise<void> {
  const attempts = opts.attempts ?? 60;
  for (let attempt = 1; ; attempt++) {
    const cm = await client.find(core.configMaps, journalName, toolNamespace);
    if (!cm) {
      await createJournal(client);
      continue;
    }
    const data = (cm.data ?? {}) as Record<string, string>;
    const patch = changeFor(data, entry, opts.maxEntries ?? journalBounds.maxEntries);
    try {
      await client.mergePatch(core.configMaps, journalName, toolNamespace, {
        metadata: { resourceVersion: cm.metadata.resourceVersion },
        data: patch,
      });
      return;
    } catch (err) {
      if (!isConflict(err) || attempt >= attempts) throw err;
      // Many writers at once: back off with jitter, so that one of them gets through each round.
      await sleep(Math.random() * Math.min(20 * 2 ** attempt, 800));
    }
  }
}
