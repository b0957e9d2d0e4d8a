import type { KubeObject } from './resources';

/** One entry of metadata.managedFields: who last set which fields, and how. */
export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  time?: string;
  fieldsV1?: Record<string, unknown>;
}

/**
 * The managers that own a field, by its path in fieldsV1 form, e.g.
 * ['f:metadata', 'f:annotations', 'f:apps.vworkspace.io/reconcile']. Server-side field tracking
 * is evidence of who set a field last: a value removed and set again by hand is owned by the hand.
 */
export function fieldOwners(obj: KubeObject, path: string[]): string[] {
  const entries = (obj.metadata.managedFields ?? []) as ManagedFieldsEntry[];
  return entries
    .filter((e) => {
      let node: unknown = e.fieldsV1;
      for (const p of path) node = (node as Record<string, unknown> | undefined)?.[p];
      return node !== undefined;
    })
    .map((e) => e.manager ?? '');
}

export const tracksFields = (obj: KubeObject) =>
  Array.isArray(obj.metadata.managedFields) && obj.metadata.managedFields.length > 0;

/** Only the entries that own one of these paths: what a slim copy keeps of managedFields. */
export function managedFieldsFor(obj: KubeObject, paths: string[][]): ManagedFieldsEntry[] | undefined {
  const entries = obj.metadata.managedFields as ManagedFieldsEntry[] | undefined;
  if (!entries) return undefined;
  const owners = new Set(paths.flatMap((p) => fieldOwners(obj, p)));
  return entries.filter((e) => owners.has(e.manager ?? ''));
}
