import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { KubeClient } from '../../lib/kube/client';
import { core } from '../../lib/kube/resources';
import { decommissionRecord, pauseAnnotation, pausedByAnnotation, resources } from '../../lib/operator/names';
import { type FakeOdoo, startFakeOdoo } from '../support/fake-odoo';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy';
import { adminKubeconfig, createTestNamespace, deleteNamespace, kubectlOk } from '../support/kube-env';
import { SimOperator } from '../support/sim-operator';
import { denyByPolicy, refusedWith422 } from '../helpers/admission';
import {
  adminClient,
  itemsOf,
  type ResultItem,
  createApps,
  createOperatorWorld,
  distBin,
  ensureStorageLocation,
  eventually,
  unwrapped,
  vw,
} from '../helpers/plugins';

// The README's promises that no other file holds to account: per-object failures (a row with its
// reason, exit 1), retries as the README states them (429 never sooner than Retry-After, 5xx with
// backoff, connection resets, a 409 re-read and re-applied, a permanent 5xx failing its object
// rather than hanging), -f FILE and -f -, -v, the dry-run modes of resume and decommission,
// decommission --no-wait and --fail-fast, --force's typed confirmation, backup --velero-namespace.

const system = 'vworkspace-system';
const stack = /\n\s+at /;

const row = (stdout: string, kind: string, name: string) =>
  itemsOf(stdout).find((i) => i.kind === kind && i.name === name);

/**
 * A policy in namespace `ns` that refuses to change the pause annotation of the
 * ApplicationInstance `name` (or to delete it), as a cluster's own policy might: the API server
 * answers 422 for that one object, every other object goes through. Resolves once it is enforced.
 */
function lockInstance(client: KubeClient, ns: string, name: string) {
  const reconcile = `[?'${pauseAnnotation}'].orValue('')`;
  return denyByPolicy(client, {
    name: `vw-test-lock-${ns}-${name}`,
    operations: ['UPDATE', 'DELETE'],
    expression: `oldObject.metadata.name != '${name}' || (request.operation == 'UPDATE' && object.metadata.?annotations${reconcile} == oldObject.metadata.?annotations${reconcile})`,
    message: `${name} is locked by the cluster's admission policy`,
    namespace: ns,
    refused: () =>
      refusedWith422(() =>
        client.mergePatch(
          resources.applicationInstances,
          name,
          ns,
          { metadata: { annotations: { [pauseAnnotation]: 'probe' } } },
          { dryRun: true },
        ),
      ),
  });
}

/** Runs a plugin on a terminal (util-linux `script`), answers its prompt, returns what the terminal showed. */
async function answerPrompt(args: string[], kubeconfig: string, prompt: RegExp, answer: string) {
  const line = [join(distBin, 'kubectl-vw'), ...args].map((a) => `'${a}'`).join(' ');
  const run = execa('script', ['-qec', line, '/dev/null'], {
    env: { KUBECONFIG: kubeconfig, NO_COLOR: '1', TERM: 'xterm' },
    reject: false,
    timeout: 120_000,
  });
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no prompt; saw: ${seen}`)), 60_000);
    run.stdout?.on('data', (c: Buffer) => {
      seen += c.toString();
      if (prompt.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  run.stdin?.write(`${answer}\r`);
  const r = await run;
  return { exitCode: r.exitCode, output: String(r.stdout) };
}

describe('what the README promises', () => {
  let kubeconfig: string;
  let client: KubeClient;
  let odoo: FakeOdoo;
  let sim: SimOperator;
  let ns: string;
  let ns2: string;
  const unlocks: (() => Promise<void>)[] = [];

  const get = (name: string, namespace = ns) => client.get(resources.applicationInstances, name, namespace);
  const paused = async (name: string, namespace = ns) =>
    (await get(name, namespace)).metadata.annotations?.[pauseAnnotation] === 'disabled';
  const lock = async (name: string) => {
    const unlock = await lockInstance(client, ns, name);
    unlocks.push(unlock);
    return unlock;
  };

  beforeAll(async () => {
    kubeconfig = adminKubeconfig();
    client = adminClient(kubeconfig);
    odoo = await startFakeOdoo();
    ns = await createTestNamespace('promises');
    ns2 = await createTestNamespace('promises-2');
    sim = new SimOperator({ kubeconfig, namespaces: [ns, ns2, system], odooUrl: odoo.url });
    await sim.start();
  });

  afterAll(async () => {
    for (const unlock of unlocks) await unlock().catch(() => undefined);
    await sim?.stop();
    for (const c of (await client.list(resources.clusters, { namespace: system }).catch(() => ({ items: [] }))).items) {
      await client
        .mergePatch(resources.clusters, c.metadata.name, system, { metadata: { finalizers: null } })
        .catch(() => undefined);
      await client.delete(resources.clusters, c.metadata.name, system).catch(() => undefined);
    }
    await client.delete(core.configMaps, decommissionRecord, 'kube-system').catch(() => undefined);
    await deleteNamespace(ns, { wait: true });
    await deleteNamespace(ns2, { wait: true });
    await odoo?.stop();
  });

  describe('per-object failures: a row with the reason, exit 1', () => {
    it('pause: the object the API server refuses is failed with its reason, the others are paused, and the run does not wait for it', async () => {
      await createApps(client, ns, [{ name: 'pf-1' }, { name: 'pf-2' }, { name: 'pf-3' }]);
      await lock('pf-2');
      // The default --timeout (5m) stands: the operator can never report a pause that was refused.
      const r = await vw(['pause', '-n', ns, 'pf-1', 'pf-2', 'pf-3', '-o', 'json'], { kubeconfig, timeoutMs: 150_000 });
      expect(r.exitCode).toBe(1);
      expect(row(r.stdout, 'ApplicationInstance', 'pf-2')).toMatchObject({
        action: 'pause',
        result: 'failed',
        message: expect.stringMatching(/^422 Invalid: .*pf-2 is locked by the cluster's admission policy/),
      });
      for (const name of ['pf-1', 'pf-3'])
        expect(row(r.stdout, 'ApplicationInstance', name)).toMatchObject({ result: 'changed' });
      expect(JSON.parse(r.stdout).summary).toMatchObject({ changed: 2, failed: 1 });
      expect(unwrapped(r.stderr)).toMatch(/pause: 2 changed, 0 unchanged, 1 failed/);
      expect(r.stderr).not.toMatch(/never reported/);
      expect(r.stderr).not.toMatch(stack);
      expect(await paused('pf-1')).toBe(true);
      expect(await paused('pf-2')).toBe(false);
      // The table says the same, one row per object, the reason in it.
      const table = await vw(['pause', '-n', ns, 'pf-1', 'pf-2', 'pf-3', '--no-wait'], {
        kubeconfig,
        env: { COLUMNS: '400' },
      });
      expect(table.exitCode).toBe(1);
      expect(table.stdout).toMatch(/ApplicationInstance\s+pf-2\s+pause\s+failed\s+422 Invalid: .*locked/);
      expect(table.stdout).toMatch(/ApplicationInstance\s+pf-1\s+none\s+unchanged/);
    }, 240_000);

    it('resume: the same, and a server dry run meets the same refusal while a client dry run only plans', async () => {
      await createApps(client, ns, [{ name: 'rf-1' }, { name: 'rf-2' }]);
      expect((await vw(['pause', '-n', ns, 'rf-1', 'rf-2', '--timeout', '60s'], { kubeconfig })).exitCode).toBe(0);
      await lock('rf-2');
      const planned = await vw(['resume', '-n', ns, 'rf-1', 'rf-2', '--dry-run=client', '-o', 'json'], { kubeconfig });
      expect(planned.exitCode).toBe(0);
      expect(itemsOf(planned.stdout).filter((i) => i.kind === 'ApplicationInstance')).toEqual([
        expect.objectContaining({ name: 'rf-1', result: 'planned' }),
        expect.objectContaining({ name: 'rf-2', result: 'planned' }),
      ]);
      const validated = await vw(['resume', '-n', ns, 'rf-1', 'rf-2', '--dry-run=server', '-o', 'json'], {
        kubeconfig,
      });
      expect(validated.exitCode).toBe(1);
      expect(row(validated.stdout, 'ApplicationInstance', 'rf-1')).toMatchObject({ result: 'validated' });
      expect(row(validated.stdout, 'ApplicationInstance', 'rf-2')).toMatchObject({
        result: 'failed',
        message: expect.stringMatching(/locked by the cluster's admission policy/),
      });
      expect(await paused('rf-1')).toBe(true);
      const r = await vw(['resume', '-n', ns, 'rf-1', 'rf-2', '-o', 'json'], { kubeconfig, timeoutMs: 150_000 });
      expect(r.exitCode).toBe(1);
      expect(row(r.stdout, 'ApplicationInstance', 'rf-1')).toMatchObject({ action: 'resume', result: 'changed' });
      expect(row(r.stdout, 'ApplicationInstance', 'rf-2')).toMatchObject({
        action: 'resume',
        result: 'failed',
        message: expect.stringMatching(/^422 Invalid: .*locked/),
      });
      expect(r.stderr).not.toMatch(/never reported/);
      expect(await paused('rf-1')).toBe(false);
      expect(await paused('rf-2')).toBe(true);
    }, 240_000);
  });

  describe('retries, through the fault proxy', () => {
    let proxy: FaultProxy;
    beforeAll(async () => {
      proxy = await startFaultProxy(kubeconfig);
    });
    afterAll(async () => {
      await proxy?.stop();
    });
    beforeEach(() => {
      proxy.clearRules();
      proxy.clearRequests();
    });
    const patchesOf = (name: string) =>
      proxy.requests.filter((q) => q.method === 'PATCH' && q.path.endsWith(`/applicationinstances/${name}`));
    // Without 409s: the operator's own write landing between read and patch (re-read and
    // re-applied, the test below) is not one of the faults the retry test counts.
    const faultsOf = (name: string) => patchesOf(name).filter((q) => q.status !== 409);
    const gaps = (name: string) =>
      faultsOf(name)
        .map((q) => q.time.getTime())
        .slice(1)
        .map((t, i) => t - (faultsOf(name)[i]?.time.getTime() ?? 0));
    const onPatchOf = (name: string) => ({ method: 'PATCH', path: new RegExp(`/applicationinstances/${name}$`) });

    it('429 is retried never sooner than Retry-After, 500 and 503 with a growing backoff, connection resets too', async () => {
      await createApps(client, ns, [{ name: 'rt-429' }, { name: 'rt-503' }, { name: 'rt-500' }, { name: 'rt-reset' }]);
      await sim.idle();
      proxy.addRule({ ...onPatchOf('rt-429'), action: { status: 429, retryAfterSeconds: 2 }, times: 2 });
      proxy.addRule({ ...onPatchOf('rt-503'), action: { status: 503 }, times: 3 });
      proxy.addRule({ ...onPatchOf('rt-500'), action: { status: 500 }, times: 2 });
      proxy.addRule({ ...onPatchOf('rt-reset'), action: { reset: true }, times: 2 });
      const r = await vw(
        ['pause', '-n', ns, 'rt-429', 'rt-503', 'rt-500', 'rt-reset', '--no-wait', '-o', 'json', '-v'],
        {
          kubeconfig: proxy.kubeconfig,
        },
      );
      expect({ exitCode: r.exitCode, stderr: r.exitCode ? r.stderr : '' }).toEqual({ exitCode: 0, stderr: '' });
      expect(itemsOf(r.stdout).map((i) => i.result)).toEqual(['changed', 'changed', 'changed', 'changed']);
      for (const name of ['rt-429', 'rt-503', 'rt-500', 'rt-reset']) expect(await paused(name)).toBe(true);

      expect(faultsOf('rt-429').map((q) => q.status)).toEqual([429, 429, 200]);
      for (const gap of gaps('rt-429')) expect(gap).toBeGreaterThanOrEqual(1_990);
      expect(faultsOf('rt-503').map((q) => q.status)).toEqual([503, 503, 503, 200]);
      // Jittered exponential backoff: each wait at least half of 200 ms, 400 ms, 800 ms.
      const [g1, g2, g3] = gaps('rt-503');
      expect(g1).toBeGreaterThanOrEqual(95);
      expect(g2).toBeGreaterThanOrEqual(195);
      expect(g3).toBeGreaterThanOrEqual(395);
      expect(faultsOf('rt-500').map((q) => q.status)).toEqual([500, 500, 200]);
      expect(faultsOf('rt-reset').map((q) => q.outcome)).toEqual(['reset', 'reset', 'answered']);
      // -v shows each retry.
      expect(r.stderr).toMatch(/PATCH \S+\/rt-429 -> 429 \(attempt 1\)/);
      expect(r.stderr).toMatch(/PATCH \S+\/rt-503 -> 503 \(attempt 3\)/);
      expect(r.stderr).toMatch(/PATCH \S+\/rt-reset -> connection error \(attempt 2\)/);
    });

    it('a permanent 5xx fails that object (exit 1, its reason in the row) after a bounded number of tries, never a hang', async () => {
      await createApps(client, ns, [{ name: 'pm-1' }, { name: 'pm-2' }, { name: 'pm-3' }]);
      proxy.addRule({ ...onPatchOf('pm-2'), action: { status: 500, message: 'etcd is on fire' } });
      // The default --timeout (5m): the wait must not wait for the object that failed.
      const r = await vw(['pause', '-n', ns, 'pm-1', 'pm-2', 'pm-3', '-o', 'json'], {
        kubeconfig: proxy.kubeconfig,
        timeoutMs: 150_000,
      });
      expect(r.exitCode).toBe(1);
      expect(row(r.stdout, 'ApplicationInstance', 'pm-2')).toMatchObject({
        result: 'failed',
        message: '500 InternalError: etcd is on fire',
      });
      expect(row(r.stdout, 'ApplicationInstance', 'pm-1')).toMatchObject({ result: 'changed' });
      expect(row(r.stdout, 'ApplicationInstance', 'pm-3')).toMatchObject({ result: 'changed' });
      expect(patchesOf('pm-2').length).toBeGreaterThan(1);
      expect(patchesOf('pm-2').every((q) => q.status === 500 && !q.forwarded)).toBe(true);
      expect(r.stderr).not.toMatch(/never reported/);
      expect(await paused('pm-2')).toBe(false);
    }, 240_000);

    it('a 409 conflict is re-read and re-applied: another writer changes the object while the patch is on its way', async () => {
      await createApps(client, ns, [{ name: 'cf-1' }]);
      // The first patch is held back; meanwhile someone else writes the object, so the patch
      // (which carries the resourceVersion it was computed from) meets a real 409.
      proxy.addRule({ ...onPatchOf('cf-1'), action: { delayMs: 4_000 }, times: 1 });
      const run = vw(['pause', '-n', ns, 'cf-1', '--no-wait', '-o', 'json', '-v'], { kubeconfig: proxy.kubeconfig });
      await eventually(async () => patchesOf('cf-1').length > 0, 30_000, 'the patch to reach the proxy');
      await client.mergePatch(resources.applicationInstances, 'cf-1', ns, {
        metadata: { labels: { 'written-by': 'someone-else' } },
      });
      const r = await run;
      expect({ exitCode: r.exitCode, stderr: r.exitCode ? r.stderr : '' }).toEqual({ exitCode: 0, stderr: '' });
      expect(patchesOf('cf-1').map((q) => q.status)).toEqual([409, 200]);
      expect(r.stderr).toMatch(/PATCH \S+\/cf-1 -> 409 \(attempt 1\)/);
      expect(row(r.stdout, 'ApplicationInstance', 'cf-1')).toMatchObject({ result: 'changed' });
      const ai = await get('cf-1');
      expect(ai.metadata.labels?.['written-by']).toBe('someone-else');
      expect(ai.metadata.annotations?.[pauseAnnotation]).toBe('disabled');
    });
  });

  describe('-f FILE and -f -', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'vw-names-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('-f FILE takes kubectl get -o name lines and NAMESPACE/NAME lines across namespaces', async () => {
      await createApps(client, ns, [{ name: 'ff-1' }, { name: 'ff-2' }]);
      await createApps(client, ns2, [{ name: 'ff-3' }]);
      const file = join(dir, 'names.txt');
      writeFileSync(file, `${ns}/ff-1\n${ns2}/ff-3\n`);
      const r = await vw(['pause', '-A', '-f', file, '--no-wait', '-o', 'json'], { kubeconfig });
      expect(r.exitCode).toBe(0);
      expect(
        itemsOf(r.stdout)
          .map((i) => `${i.namespace}/${i.name}:${i.result}`)
          .sort(),
      ).toEqual([`${ns}/ff-1:changed`, `${ns2}/ff-3:changed`].sort());
      expect(await paused('ff-2')).toBe(false);
      writeFileSync(file, 'applicationinstance.apps.vworkspace.io/ff-1\napplicationinstance.apps.vworkspace.io/ff-2\n');
      const byName = await vw(['resume', '-n', ns, '-f', file, '--no-wait', '-o', 'json'], { kubeconfig });
      expect(byName.exitCode).toBe(0);
      expect(itemsOf(byName.stdout).filter((i) => i.kind === 'ApplicationInstance')).toEqual([
        expect.objectContaining({ name: 'ff-1', result: 'changed' }),
        expect.objectContaining({ name: 'ff-2', action: 'none', result: 'unchanged' }),
      ]);
      expect(await paused('ff-1')).toBe(false);
    });

    it('-f - reads what pause -o name printed; a misspelt name in the file stops the command before any change', async () => {
      const printed = await vw(['pause', '-n', ns, 'ff-1', 'ff-2', '--no-wait', '-o', 'name'], { kubeconfig });
      expect(printed.exitCode).toBe(0);
      const r = await vw(['resume', '-n', ns, '-f', '-', '--no-wait', '-o', 'json'], {
        kubeconfig,
        input: printed.stdout,
      });
      expect(r.exitCode).toBe(0);
      expect(
        itemsOf(r.stdout)
          .filter((i) => i.kind === 'ApplicationInstance')
          .map((i) => `${i.name}:${i.result}`),
      ).toEqual(['ff-1:changed', 'ff-2:changed']);
      const file = join(dir, 'misspelt.txt');
      writeFileSync(file, `${ns}/ff-1\n${ns}/ff-99\n`);
      const misspelt = await vw(['pause', '-A', '-f', file, '--no-wait'], { kubeconfig });
      expect(misspelt.exitCode).toBe(2);
      expect(misspelt.stderr).toMatch(/not found .*ff-99/);
      const fromStdin = await vw(['pause', '-A', '-f', '-', '--no-wait'], { kubeconfig, input: `${ns}/ff-99\n` });
      expect(fromStdin.exitCode).toBe(2);
      expect(await paused('ff-1')).toBe(false);
      const missing = await vw(['pause', '-n', ns, '-f', join(dir, 'no-such-file')], { kubeconfig });
      expect(missing.exitCode).toBe(2);
      expect(missing.stderr).toMatch(/cannot read -f .*no-such-file: ENOENT/);
    });
  });

  it('-v adds stack traces to errors; without it an error is one line and a hint', async () => {
    const plain = await vw(['pause', '-n', ns, 'no-such-app'], { kubeconfig });
    expect(plain.exitCode).toBe(2);
    expect(plain.stderr).toMatch(/^error: ApplicationInstance not found in namespace \S+: no-such-app$/m);
    expect(plain.stderr).not.toMatch(stack);
    const verbose = await vw(['pause', '-n', ns, 'no-such-app', '-v'], { kubeconfig });
    expect(verbose.exitCode).toBe(2);
    expect(verbose.stderr).toMatch(/error: ApplicationInstance not found/);
    expect(verbose.stderr).toMatch(stack);
    // An API error from a step, too.
    const unreachable = await vw(['pause', '-n', ns, 'x', '-v', '--server', 'https://127.0.0.1:1'], { kubeconfig });
    expect(unreachable.exitCode).toBe(3);
    expect(unreachable.stderr).toMatch(stack);
    const quiet = await vw(['pause', '-n', ns, 'x', '--server', 'https://127.0.0.1:1'], { kubeconfig });
    expect(quiet.exitCode).toBe(3);
    expect(quiet.stderr).not.toMatch(stack);
  });

  describe('resume --dry-run', () => {
    it('client plans, server validates: rows say so as kubectl does, and nothing changes', async () => {
      await createApps(client, ns, [{ name: 'dr-1' }]);
      // The operator gives the instance its HelmRelease: pause then suspends it.
      await eventually(() => client.find(resources.helmReleases, 'dr-1', ns), 30_000, 'the HelmRelease of dr-1');
      expect(
        (await vw(['pause', '-n', ns, 'dr-1', '--suspend-helmreleases', '--timeout', '60s'], { kubeconfig })).exitCode,
      ).toBe(0);
      const before = (await get('dr-1')).metadata.resourceVersion;
      for (const [mode, result, mark] of [
        ['client', 'planned', '(dry run)'],
        ['server', 'validated', '(server dry run)'],
      ] as const) {
        const json = await vw(['resume', '-n', ns, 'dr-1', `--dry-run=${mode}`, '-o', 'json'], { kubeconfig });
        expect(json.exitCode).toBe(0);
        const doc = JSON.parse(json.stdout);
        expect(doc).toMatchObject({ kind: 'ResumeResult', dryRun: mode });
        expect(doc.items.map((i: ResultItem) => `${i.kind}:${i.action}:${i.result}`)).toEqual([
          `ApplicationInstance:resume:${result}`,
          `HelmRelease:unsuspend:${result}`,
        ]);
        const table = await vw(['resume', '-n', ns, 'dr-1', `--dry-run=${mode}`], { kubeconfig });
        const marked = `${result} ${mark}`.replace(/[()]/g, '\\$&');
        expect(table.stdout).toMatch(new RegExp(`ApplicationInstance\\s+dr-1\\s+resume\\s+${marked}`));
      }
      const ai = await get('dr-1');
      expect(ai.metadata.resourceVersion).toBe(before);
      expect(ai.metadata.annotations?.[pausedByAnnotation]).toBeTruthy();
      const hr = await client.get(resources.helmReleases, 'dr-1', ns);
      expect((hr.spec as { suspend?: boolean }).suspend).toBe(true);
    });
  });

  describe('backup --velero-namespace', () => {
    let veleroSim: SimOperator;
    let ns3: string;
    const veleroNs = 'velero-promises';
    beforeAll(async () => {
      ns3 = await createTestNamespace('promises-velero');
      await createApps(client, ns3, [{ name: 'vb-1', annotations: { [pauseAnnotation]: 'disabled' } }]);
      await kubectlOk(['create', 'namespace', veleroNs]).catch(() => undefined);
      await ensureStorageLocation(client); // velero/aws-primary exists, as in every installation
      await client.create(
        resources.backupStorageLocations,
        {
          apiVersion: 'velero.io/v1',
          kind: 'BackupStorageLocation',
          metadata: { name: 'dr-location', namespace: veleroNs },
          spec: { provider: 'aws', objectStorage: { bucket: 'vw-dr', prefix: 'promises' } },
        },
        veleroNs,
      );
      await client.mergePatch(resources.backupStorageLocations, 'dr-location', veleroNs, {
        status: { phase: 'Available' },
      });
      // An installation whose Velero runs in another namespace.
      veleroSim = new SimOperator({ kubeconfig, namespaces: [ns3], veleroNamespace: veleroNs });
      await veleroSim.start();
    });
    afterAll(async () => {
      await veleroSim?.stop();
      await deleteNamespace(ns3, { wait: true });
      await deleteNamespace(veleroNs, { wait: true });
    });

    it('finds the storage location and the Velero Backups in the namespace it names', async () => {
      const elsewhere = await vw(['backup', '-n', ns3, 'vb-1', '--ttl', '720h', '--storage-location', 'dr-location'], {
        kubeconfig,
      });
      expect(elsewhere.exitCode).toBe(2);
      expect(elsewhere.stderr).toMatch(/BackupStorageLocation "dr-location" not found in namespace velero\b/);
      const r = await vw(
        [
          'backup',
          '-n',
          ns3,
          'vb-1',
          '--ttl',
          '720h',
          '--storage-location',
          'dr-location',
          '--velero-namespace',
          veleroNs,
          '--timeout',
          '90s',
          '-o',
          'json',
        ],
        { kubeconfig },
      );
      expect({ exitCode: r.exitCode, stderr: r.exitCode ? r.stderr : '' }).toEqual({ exitCode: 0, stderr: '' });
      const [item] = JSON.parse(r.stdout).items;
      expect(item).toMatchObject({
        application: 'vb-1',
        phase: 'Succeeded',
        backup: { namespace: veleroNs, phase: 'Completed' },
        safe: true,
      });
    });
  });

  describe('decommission', () => {
    const cluster = (name: string) => client.find(resources.clusters, name, system);
    const registered = (name: string) =>
      eventually(
        async () => ((await cluster(name))?.status as { clusterID?: string } | undefined)?.clusterID,
        30_000,
        `${name} registered`,
      );
    // Preflight looks at every instance of the cluster; this file's are not all paused.
    const decommission = (...args: string[]) =>
      vw(['decommission', '--skip-backup-check', '--force-preflight', ...args], { kubeconfig, timeoutMs: 150_000 });

    beforeAll(async () => {
      await createOperatorWorld(client, { odooUrl: odoo.url, cluster: 'promise-a' });
      await registered('promise-a');
    });

    it('--dry-run=client plans and --dry-run=server validates the deletion; the Cluster stays', async () => {
      const planned = await decommission('promise-a', '--dry-run=client', '-o', 'json');
      expect(planned.exitCode).toBe(0);
      expect(JSON.parse(planned.stdout)).toMatchObject({ kind: 'DecommissionResult', outcome: 'planned' });
      expect(planned.stderr).toMatch(/would delete cluster\.ops\.vworkspace\.io\/promise-a/);
      const validated = await decommission('promise-a', '--dry-run=server', '-o', 'json');
      expect(validated.exitCode).toBe(0);
      expect(JSON.parse(validated.stdout)).toMatchObject({ outcome: 'validated' });
      const c = await cluster('promise-a');
      expect(c?.metadata.deletionTimestamp).toBeUndefined();
    });

    it('--no-wait deletes the Cluster and returns without following its finalizer', async () => {
      const r = await decommission('promise-a', '--yes', '--no-wait', '-o', 'json');
      expect({ exitCode: r.exitCode, stderr: r.exitCode ? r.stderr : '' }).toEqual({ exitCode: 0, stderr: '' });
      const doc = JSON.parse(r.stdout);
      // A real deletion is not a dry run's plan.
      expect(doc).toMatchObject({ kind: 'DecommissionResult', cluster: 'promise-a', outcome: 'deleting' });
      expect(r.stderr).toMatch(/deleted Cluster promise-a; not following its finalizer/);
      // It was deleted for real; no observer finalizer of kubectl vw's holds it, the operator drains it.
      await eventually(async () => !(await cluster('promise-a')), 60_000, 'promise-a gone');
      expect(await vw(['decommission', 'promise-a'], { kubeconfig }).then((x) => x.exitCode)).toBe(0);
    });

    it('--fail-fast stops waiting (exit 4) as soon as the operator reports OdooUnreachable, long before --timeout', async () => {
      await createOperatorWorld(client, { odooUrl: odoo.url, cluster: 'promise-b' });
      await registered('promise-b');
      await odoo.setMode('down');
      const r = await decommission('promise-b', '--yes', '--fail-fast', '--timeout', '30m', '-o', 'json');
      expect(r.exitCode).toBe(4);
      expect(JSON.parse(r.stdout)).toMatchObject({
        outcome: 'blocked',
        condition: { type: 'Decommissioning', status: 'False', reason: 'OdooUnreachable' },
      });
      expect(r.stderr).toMatch(/Two ways out/);
      const c = await cluster('promise-b');
      expect(c?.metadata.deletionTimestamp).toBeDefined();
      expect(c?.metadata.finalizers).toContain('ops.vworkspace.io/decommission');
    });

    it('--force --dry-run=client and =server on the stuck Cluster: planned, validated, the finalizer stays', async () => {
      const planned = await decommission('promise-b', '--force', '--dry-run=client', '-o', 'json');
      expect(planned.exitCode).toBe(0);
      expect(JSON.parse(planned.stdout)).toMatchObject({ outcome: 'planned' });
      const validated = await decommission('promise-b', '--force', '--dry-run=server', '-o', 'json');
      expect(validated.exitCode).toBe(0);
      expect(JSON.parse(validated.stdout)).toMatchObject({ outcome: 'validated' });
      expect((await cluster('promise-b'))?.metadata.finalizers).toContain('ops.vworkspace.io/decommission');
      const record = await client.find(core.configMaps, decommissionRecord, 'kube-system');
      expect((record?.data as { outcome?: string } | undefined)?.outcome).not.toBe('forced');
    });

    it('--force asks for the Cluster name typed out: a wrong one is exit 2 and changes nothing, the right one goes on', async () => {
      const args = ['decommission', 'promise-b', '--force'];
      const prompt = /Type "promise-b" to continue: /;
      const wrong = await answerPrompt(args, kubeconfig, prompt, 'promise-a');
      expect(wrong.exitCode).toBe(2);
      expect(wrong.output).toMatch(/not confirmed: nothing was changed/);
      expect((await cluster('promise-b'))?.metadata.finalizers).toContain('ops.vworkspace.io/decommission');
      const yes = await answerPrompt(args, kubeconfig, prompt, 'y');
      expect(yes.exitCode).toBe(2);
      expect((await cluster('promise-b'))?.metadata.finalizers).toContain('ops.vworkspace.io/decommission');
      const right = await answerPrompt(args, kubeconfig, prompt, 'promise-b');
      expect(right.exitCode).toBe(0);
      expect(right.output).toMatch(/Cluster Registry/);
      expect(await cluster('promise-b')).toBeUndefined();
      await odoo.setMode('up');
    });
  });
});
