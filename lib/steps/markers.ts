import { fieldOwners, managedFieldsFor, tracksFields } from '../kube/managed-fields';
import type { KubeObject } from '../kube/resources';
import {
  pauseAnnotation,
  pausedByAnnotation,
  pauseValue,
  suspendedByAnnotation,
  toolFieldManager,
} from '../operator/names';

// What kubectl vw did, as it can be proven later: its markers (paused-at, suspended-at) say it
// paused or suspended something, and the API server's field tracking says whether the pause (or
// the suspension) is still the one it set, or someone else's set since.

const pausePath = ['f:metadata', 'f:annotations', `f:${pauseAnnotation}`];
const suspendPath = ['f:spec', 'f:suspend'];

export const isPaused = (o: KubeObject) => o.metadata.annotations?.[pauseAnnotation] === pauseValue;
export const isSuspended = (o: KubeObject) => (o.spec as { suspend?: boolean } | undefined)?.suspend === true;

const ownedByTool = (o: KubeObject, path: string[]) =>
  !tracksFields(o) || fieldOwners(o, path).includes(toolFieldManager);

/** Paused, by kubectl vw, and not paused again by anyone since (the marker alone cannot say). */
export const pausedByTool = (o: KubeObject) =>
  isPaused(o) && Boolean(o.metadata.annotations?.[pausedByAnnotation]) && ownedByTool(o, pausePath);

export const suspendedByTool = (o: KubeObject) =>
  isSuspended(o) && Boolean(o.metadata.annotations?.[suspendedByAnnotation]) && ownedByTool(o, suspendPath);

/** A paused-at marker that no longer tells the truth: clear it, so resume never undoes someone's pause. */
export const stalePauseMarker = (o: KubeObject) =>
  Boolean(o.metadata.annotations?.[pausedByAnnotation]) && !pausedByTool(o);
export const staleSuspendMarker = (o: KubeObject) =>
  Boolean(o.metadata.annotations?.[suspendedByAnnotation]) && !suspendedByTool(o);

/** What a slim copy keeps of managedFields: the owners of the pause and the suspension. */
export const markerFields = (o: KubeObject) => managedFieldsFor(o, [pausePath, suspendPath]);
