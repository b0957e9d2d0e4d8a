import { defaultStorageLocation } from './contract';
import type { FakeOdoo, OdooMode } from './fake-odoo';
import { Informer, isAlreadyExists, type Kube, type KubeObject } from './kube';
import { core } from './kinds';
import type { BackupOutcome, SimOperator } from './sim-operator';
import type { ObjectStore } from './velero';

// Fault switches a sandbox user flips with kubectl alone: a ConfigMap (default: sandbox-faults
// in namespace default) whose keys the fake Odoo and the simulated world obey within a moment.
//
//   odoo: up | down | failing | slow | unauthorized | rejecting    (the fake Odoo's mode)
//   odooSlowMs: <ms>                                                (slow's delay; default 2000)
//   backups: succeed | fail | hang | partial                        (what Velero does with backups)
//   storageLocation: Available | Unavailable                        (the default location's phase)
//
// With the real Velero these act on what it depends on, and Velero does the rest: fail makes the
// object store refuse writes (the backup fails uploading), Unavailable makes it refuse everything
// (Velero's validation marks the location Unavailable, new backups fail validation), hang and
// partial make the storage driver never take snapshots (the backup waits; partial with a short
// csiSnapshotTimeout, so it ends PartiallyFailed).
//
//   kubectl -n default patch configmap sandbox-faults --type merge -p '{"data":{"odoo":"down"}}'

export const sandboxFaultsName = 'sandbox-faults';
export const sandboxFaultsNamespace = 'default';

export interface SandboxFaultValues {
  odoo: OdooMode;
  backups: BackupOutcome;
  storageLocation: 'Available' | 'Unavailable';
}

export const sandboxFaultDefaults: SandboxFaultValues = {
  odoo: 'up',
  backups: 'succeed',
  storageLocation: 'Available',
};

const odooModes: OdooMode[] = ['up', 'down', 'failing', 'slow', 'unauthorized', 'rejecting'];
const backupOutcomes: BackupOutcome[] = ['succeed', 'fail', 'hang', 'partial'];
const locationPhases = ['Available', 'Unavailable'] as const;

export const sandboxFaultsExample = (namespace = sandboxFaultsNamespace, name = sandboxFaultsName) =>
  `kubectl -n ${namespace} patch configmap ${name} --type merge -p '{"data":{"odoo":"down"}}'`;

/** Creates the ConfigMap with the defaults (an existing one is left as it is). */
export async function ensureSandboxFaults(kube: Kube, opts: { namespace?: string; name?: string } = {}): Promise<void> {
  try {
    await kube.create(core.configMaps, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: opts.name ?? sandboxFaultsName,
        namespace: opts.namespace ?? sandboxFaultsNamespace,
        annotations: {
          'vworkspace.io/usage': `switch a fault: ${sandboxFaultsExample(opts.namespace, opts.name)}; keys: odoo (${odooModes.join('|')}), backups (${backupOutcomes.join('|')}), storageLocation (Available|Unavailable)`,
        },
      },
      data: { ...sandboxFaultDefaults },
    });
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}

export interface SandboxFaultsWatch {
  /** What was last applied (the defaults until the ConfigMap is seen). */
  readonly applied: SandboxFaultValues;
  /** How many times a change of the ConfigMap has been applied. */
  readonly generation: number;
  stop(): void;
}

/**
 * Watches the ConfigMap and applies its keys: odoo to the fake Odoo, backups and storageLocation
 * to the simulated world (the location is `storageLocation`, default aws-primary). A key that is
 * missing or unknown keeps the last value (an unknown one is logged).
 */
export async function watchSandboxFaults(opts: {
  kube: Kube;
  odoo?: FakeOdoo;
  sim?: SimOperator;
  /** The real Velero's object store: backups=fail and storageLocation=Unavailable act on it. */
  store?: ObjectStore;
  namespace?: string;
  name?: string;
  /** Which BackupStorageLocation `storageLocation` sets (default aws-primary). */
  storageLocation?: string;
  log?: (line: string) => void;
}): Promise<SandboxFaultsWatch> {
  const log = opts.log ?? (() => {});
  const name = opts.name ?? sandboxFaultsName;
  const location = opts.storageLocation ?? defaultStorageLocation;
  const abort = new AbortController();
  const applied: SandboxFaultValues = { ...sandboxFaultDefaults };
  let generation = 0;
  let chain = Promise.resolve();

  const pickValue = <T extends string>(data: Record<string, string>, key: string, allowed: readonly T[]) => {
    const v = data[key]?.trim();
    if (v === undefined || v === '') return undefined;
    if ((allowed as readonly string[]).includes(v)) return v as T;
    log(`${name}: ${key}=${JSON.stringify(v)} ignored (one of ${allowed.join(', ')})`);
    return undefined;
  };

  const apply = async (cm: KubeObject) => {
    const data = (cm.data as Record<string, string> | undefined) ?? {};
    const odoo = pickValue(data, 'odoo', odooModes);
    const backups = pickValue(data, 'backups', backupOutcomes);
    const phase = pickValue(data, 'storageLocation', locationPhases);
    const slowMs = Number(data.odooSlowMs);
    if (odoo && opts.odoo && (odoo !== opts.odoo.mode || odoo === 'slow')) {
      await opts.odoo.setMode(odoo, odoo === 'slow' && slowMs > 0 ? { delayMs: slowMs } : {});
      log(`${name}: odoo ${odoo}`);
    }
    if (odoo) applied.odoo = odoo;
    // Only a change is applied: setFaults re-runs every reconcile, which a switch of Odoo alone
    // must not cause (the operator would re-check Odoo's health at once, which it does not).
    const sim = opts.sim;
    const newOutcome = backups && sim && backups !== sim.faults.backupOutcome ? backups : undefined;
    const newPhase = phase && sim && sim.faults.storageLocationPhases.get(location) !== phase ? phase : undefined;
    if (sim && (newOutcome || newPhase)) {
      const phases = new Map(sim.faults.storageLocationPhases);
      if (newPhase) phases.set(location, newPhase);
      sim.setFaults({ ...(newOutcome ? { backupOutcome: newOutcome } : {}), storageLocationPhases: phases });
      log(`${name}: backups ${backups ?? applied.backups}, storageLocation ${phase ?? applied.storageLocation}`);
    }
    if (backups) applied.backups = backups;
    if (phase) applied.storageLocation = phase;
    if (opts.store && (backups || phase)) {
      const mode =
        applied.storageLocation === 'Unavailable' ? 'deny-all' : applied.backups === 'fail' ? 'deny-writes' : 'ok';
      await opts.store.setMode(mode);
      log(`${name}: object store ${mode}`);
    }
    generation++;
  };

  const informer = new Informer(opts.kube, core.configMaps, {
    namespace: opts.namespace ?? sandboxFaultsNamespace,
    fieldSelector: `metadata.name=${name}`,
    signal: abort.signal,
    onError: (err) => log(`${name} watch: ${(err as Error).message}`),
  });
  informer.on((type, cm) => {
    if (type === 'DELETED') return;
    chain = chain.then(() => apply(cm)).catch((err) => log(`${name}: ${(err as Error).message}`));
  });
  await informer.start();
  await chain;
  return {
    applied,
    get generation() {
      return generation;
    },
    stop: () => abort.abort(),
  };
}
