// Step 2 of the procedure on 1,000 applications, with the simulated operator and Velero taking
// the backups (realistic timing): kubectl vw backup against the procedure's loop (one kubectl
// apply per application, then polling kubectl get operations until every phase is final, as a
// user following the procedure would), and how long the plugin takes to exit once the last
// Operation is final. The plugin talks through the request-logging proxy, which counts its API
// requests (the operator's wait dwarfs the proxy's millisecond per request).
import { execa } from 'execa';
import type { KubeClient } from '../../lib/kube/client';
import { objectKey, observe } from '../../lib/kube/watch';
import { resources } from '../../lib/operator/names';
import type { FaultProxy } from '../support/fault-proxy';
import { log, round, seconds, seedInstances, vwTimed } from './measure';
import { countRequests } from './requests';

const finalPhases = new Set(['Succeeded', 'Failed']);

/** Watches Operations in a namespace and notes when each first reached a final phase. */
function watchFinals(client: KubeClient, namespace: string) {
  const finals = new Map<string, number>();
  const stop = new AbortController();
  const note = (o: { metadata: { name: string; namespace?: string }; status?: unknown }) => {
    const phase = (o.status as { phase?: string } | undefined)?.phase ?? '';
    const key = objectKey(o as never);
    if (finalPhases.has(phase) && !finals.has(key)) finals.set(key, performance.now());
  };
  const done = observe(client, resources.operations, {
    namespace,
    signal: stop.signal,
    onList: (items) => items.forEach(note),
    onEvent: (_type, o) => note(o),
  });
  return {
    finals,
    stop: async () => {
      stop.abort();
      await done.catch(() => undefined);
    },
  };
}

const ttl = '8760h';

/** kubectl vw backup on one namespace; the time from the last Operation's final phase to its exit. */
async function pluginBackup(client: KubeClient, env: Record<string, string>, ns: string, count: number) {
  const watch = watchFinals(client, ns);
  const run = await vwTimed(['backup', '-n', ns, '--all', '--ttl', ttl], env).finally(() => watch.stop());
  const lastFinal = Math.max(...watch.finals.values());
  if (watch.finals.size !== count) throw new Error(`${watch.finals.size} of ${count} Operations seen final`);
  return { run, lastFinalToExitSeconds: (run.endedAt - lastFinal) / 1000 };
}

/** The procedure's step 2 loop, verbatim but for -n instead of -A, then polling until every phase is final. */
function shellBackup(env: Record<string, string>, ns: string) {
  // The procedure's manifest; $name and $ns are the shell loop's (the procedure writes ${name}).
  const manifest = [
    'apiVersion: ops.vworkspace.io/v1alpha1',
    'kind: Operation',
    'metadata:',
    '  name: $name-final-backup',
    '  namespace: $ns',
    'spec:',
    '  targetRef:',
    '    apiVersion: apps.vworkspace.io/v1alpha1',
    '    kind: ApplicationInstance',
    '    name: $name',
    '  type: Backup',
    '  engine: velero',
    '  parameters:',
    '    storageLocation: aws-primary',
    '    snapshotVolumes: true',
    '    csiSnapshotClassName: csi-rbd',
    `    ttl: ${ttl}`,
  ].join('\n');
  const script = [
    `kubectl get applicationinstances -n ${ns} -o json | jq -r '.items[] | "\\(.metadata.namespace) \\(.metadata.name)"' | while read ns name; do`,
    'cat <<EOF | kubectl apply -f - >/dev/null',
    manifest,
    'EOF',
    'done',
    // Every 2 s, as someone watching would, until no Operation is anything but Succeeded or Failed.
    `while kubectl get operations -n ${ns} -o json | jq -e '[.items[] | select(.status.phase != "Succeeded" and .status.phase != "Failed")] | length > 0' >/dev/null; do sleep 2; done`,
  ].join('\n');
  return seconds(() => execa('bash', ['-c', script], { env }));
}

/** Paused (step 1 done) a minute ago, as kubectl vw pause records it: their final backups then count. */
export const pausedBefore = () => ({
  paused: true,
  annotations: { 'kubectl-vw.vworkspace.io/paused-at': new Date(Date.now() - 60_000).toISOString() },
});

export async function backupBench(
  client: KubeClient,
  env: Record<string, string>,
  proxy: FaultProxy,
  count: number,
  skipShell: boolean,
) {
  const pluginNs = 'bench-backup-plugin';
  await seedInstances(client, { set: 'backup-plugin', count, namespaces: [pluginNs], ...pausedBefore() });
  proxy.clearRequests();
  const plugin = await pluginBackup(client, { ...env, KUBECONFIG: proxy.kubeconfig }, pluginNs, count);
  const requests = countRequests(proxy, count);
  log(
    `kubectl vw backup of ${count}: ${plugin.run.seconds.toFixed(1)} s, exit ${plugin.lastFinalToExitSeconds.toFixed(2)} s after the last final phase`,
  );
  let shell = Number.NaN;
  if (!skipShell) {
    const shellNs = 'bench-backup-shell';
    await seedInstances(client, { set: 'backup-shell', count, namespaces: [shellNs], ...pausedBefore() });
    shell = await shellBackup(env, shellNs);
    log(`the procedure's loop: ${shell.toFixed(1)} s`);
  }
  return {
    applications: count,
    pluginSeconds: round(plugin.run.seconds),
    shellLoopSeconds: round(shell),
    speedup: round(shell / plugin.run.seconds, 1),
    lastFinalToExitSeconds: round(plugin.lastFinalToExitSeconds),
    requestsPerApplication: requests.perObject,
    peakRssKiB: plugin.run.rssKiB,
    requests,
  };
}
