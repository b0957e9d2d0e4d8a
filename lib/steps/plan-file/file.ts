import { readFile, writeFile } from 'node:fs/promises';
import yaml from 'js-yaml';
import { UsageError } from '../../errors';
import { digestOf, planApiVersion, planKind, type UninstallPlan, uninstallPlanSchema } from './document';

const remake = 'make a new plan (kubectl vw uninstall --plan-out FILE ...) and have it reviewed';

/** The plan as a file holds it: JSON for a .json file, else YAML (both read back the same). */
export function planText(doc: UninstallPlan, path: string): string {
  if (path.endsWith('.json')) return `${JSON.stringify(doc, null, 2)}\n`;
  // JSON's types only, as the file is read: a date or "yes" stays the string it was.
  return yaml.dump(doc, { noRefs: true, lineWidth: -1, schema: yaml.JSON_SCHEMA });
}

export async function writePlanFile(doc: UninstallPlan, path: string) {
  await writeFile(path, planText(doc, path), { mode: 0o644 }).catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot write the plan to ${path}: ${err.code ?? err.message}`);
  });
}

const describeValue = (v: unknown) =>
  v === undefined ? 'none' : typeof v === 'string' ? `"${v}"` : Array.isArray(v) ? 'a list' : typeof v;

/** What the file holds as a document: one line and exit 2 when it does not parse, or holds no document. */
function parsed(text: string, path: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = yaml.load(text, { schema: yaml.JSON_SCHEMA, filename: path });
  } catch (err) {
    const reason = (err as Error).message.split('\n')[0];
    throw new UsageError(`plan file ${path} does not parse: ${reason}`, remake);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new UsageError(`plan file ${path} holds ${describeValue(raw)}, not a plan document`, remake);
  return raw as Record<string, unknown>;
}

/**
 * Reads a plan, refusing (exit 2) a file that does not parse, another kind or apiVersion, and a
 * content that does not match its digest: a plan edited after it was made is not the one approved.
 */
export function parsePlan(text: string, path: string): UninstallPlan {
  const raw = parsed(text, path);
  if (raw.kind !== planKind)
    throw new UsageError(`plan file ${path} is of kind ${describeValue(raw.kind)}, not ${planKind}`, remake);
  if (raw.apiVersion !== planApiVersion)
    throw new UsageError(
      `plan file ${path} has apiVersion ${describeValue(raw.apiVersion)}; this kubectl vw reads ${planApiVersion}`,
      remake,
    );
  const computed = digestOf(raw);
  if (raw.digest !== computed)
    throw new UsageError(
      `plan file ${path} does not match its digest (it says ${describeValue(raw.digest)}, its content hashes to ${computed}): it was changed after it was made`,
      `a plan is never edited: ${remake}`,
    );
  const checked = uninstallPlanSchema.safeParse(raw);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new UsageError(
      `plan file ${path} is not a plan this kubectl vw can run: ${issue?.path.join('.') || 'document'}: ${issue?.message}`,
      remake,
    );
  }
  return checked.data;
}

export async function readPlanFile(path: string): Promise<UninstallPlan> {
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read plan file ${path}: ${err.code ?? err.message}`, 'pass the file --plan-out wrote');
  });
  return parsePlan(text, path);
}
