import { KubeClient } from '../../lib/kube/client';
import type { KubeObject } from '../../lib/kube/resources';
import { resolveKubeTarget } from '../../lib/kube/config';
import { pauseAnnotation, pausedByAnnotation, resources, suspendedByAnnotation } from '../../lib/operator/names';
import {
  adminKubeconfig,
  createTestNamespace,
  deleteNamespace,
  kubectl,
  restrictedKubeconfig,
} from '../support/kube-env';
import { adminClient, appNames, createApps, eventually, vw } from '../helpers/plugins';
import { SimOperator } from '../support/sim-operator';
import { startThrottlingProxy } from '../support/throttling-proxy';

const suspendedCondition = (o: KubeObject) =>
  ((o.status as { conditions?: { type: string; status: string; reason?: string }[] })?.conditions ?? []).find(
    (c) => c.type === 'Suspended',
  );

describe('kubectl vw pause / resume', () => {
  let kubeconfig: string;
  let client: KubeClient;
  let nsA: string;
  let nsB: string;
  let sim: SimOperator;

  beforeAll(async () => {
    kubeconfig = adminKubeconfig();
    client = adminClient(kubeconfig);
    nsA = await createTestNamespace('pause-a');
    nsB = await createTestNamespace('pause-b');
    await createApps(
      client,
      nsA,
      appNames('shop', 4).map((name, i) => ({ name, labels: { e2e: 'pause', tier: i < 2 ? 'prod' : 'dev' } })),
    );
    await createApps(client, nsB, [
      { name: 'crm-1', labels: { e2e: 'pause' } },
      { name: 'crm-2', labels: { e2e: 'pause' }, annotations: { [pauseAnnotation]: 'disabled' } }, // paused by hand, before us
    ]);
    sim = new SimOperator({ kubeconfig, namespaces: [nsA, nsB] });
    await sim.start();
    // The operator gives every unpaused instance its HelmRelease.
    await eventually(
      async () => (await client.list(resources.helmReleases, { namespace: nsA })).items.length === 4,
      30_000,
      'HelmReleases',
    );
  });

  afterAll(async () => {
    await sim?.stop();
    await deleteNamespace(nsA, { wait: true });
    await deleteNamespace(nsB, { wait: true });
  });

  const get = (ns: string, name: string) => client.get(resources.applicationInstances, name, ns);

  it('refuses to run without a selection (exit 2, nothing changed)', async () => {
    const r = await vw(['pause', '-n', nsA], { kubeconfig });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/no ApplicationInstances selected/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('refuses a misspelt name before changing anything', async () => {
    const r = await vw(['pause', '-n', nsA, 'shop-1', 'shop-99'], { kubeconfig });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/not found in namespace .*: shop-99/);
    expect((await get(nsA, 'shop-1')).metadata.annotations?.[pauseAnnotation]).toBeUndefined();
  });

  it('refuses an unknown namespace and an unknown context', async () => {
    const ns = await vw(['pause', '-n', 'no-such-namespace', 'x'], { kubeconfig });
    expect(ns.exitCode).toBe(2);
    expect(ns.stderr).toMatch(/namespace "no-such-namespace" not found/);
    const ctx = await vw(['pause', '--context', 'nope', '-A'], { kubeconfig });
    expect(ctx.exitCode).toBe(2);
    expect(ctx.stderr).toMatch(/context "nope" not found/);
  });

  it('--dry-run=client and --dry-run=server change nothing', async () => {
    const client1 = await vw(['pause', '-n', nsA, '-l', 'tier=prod', '--dry-run=client', '-o', 'json'], { kubeconfig });
    expect(client1.exitCode).toBe(0);
    const doc = JSON.parse(client1.stdout);
    expect(doc.kind).toBe('PauseResult');
    expect(doc.items.map((i: { name: string; result: string }) => `${i.name}:${i.result}`).sort()).toEqual([
      'shop-1:planned',
      'shop-2:planned',
    ]);
    const server = await vw(['pause', '-n', nsA, '-l', 'tier=prod', '--dry-run=server', '-o', 'json'], { kubeconfig });
    expect(server.exitCode).toBe(0);
    expect(JSON.parse(server.stdout).items.every((i: { result: string }) => i.result === 'validated')).toBe(true);
    expect((await get(nsA, 'shop-1')).metadata.annotations?.[pauseAnnotation]).toBeUndefined();
  });

  it('pauses by selector, waits for the operator, and records that it did', async () => {
    const r = await vw(['pause', '-n', nsA, '-l', 'tier=prod', '--timeout', '60s'], { kubeconfig });
    expect(r.stderr).toMatch(/pause: 2 changed, 0 unchanged, 0 failed/);
    expect(r.exitCode).toBe(0);
    for (const name of ['shop-1', 'shop-2']) {
      const ai = await get(nsA, name);
      expect(ai.metadata.annotations?.[pauseAnnotation]).toBe('disabled');
      expect(ai.metadata.annotations?.[pausedByAnnotation]).toBeTruthy();
      expect(suspendedCondition(ai)).toMatchObject({ status: 'True', reason: 'ReconcilePaused' });
    }
    expect((await get(nsA, 'shop-3')).metadata.annotations?.[pauseAnnotation]).toBeUndefined();
    // stdout is the per-object table; progress and the summary went to stderr.
    expect(r.stdout).toMatch(/NAMESPACE\s+KIND\s+NAME\s+ACTION\s+RESULT/);
  });

  it('pauses across namespaces with -A, suspends HelmReleases, and leaves hand-paused instances unmarked', async () => {
    const r = await vw(['pause', '-A', '-l', 'e2e=pause', '--suspend-helmreleases', '-o', 'json', '--timeout', '60s'], {
      kubeconfig,
    });
    expect(r.exitCode).toBe(0);
    const items = JSON.parse(r.stdout).items as {
      kind: string;
      name: string;
      action: string;
      result: string;
      message?: string;
    }[];
    expect(items.find((i) => i.name === 'crm-2' && i.kind === 'ApplicationInstance')).toMatchObject({
      action: 'none',
      result: 'unchanged',
    });
    expect((await get(nsB, 'crm-2')).metadata.annotations?.[pausedByAnnotation]).toBeUndefined();
    const hr = await client.get(resources.helmReleases, 'crm-1', nsB);
    expect((hr.spec as { suspend?: boolean }).suspend).toBe(true);
    expect(hr.metadata.annotations?.[suspendedByAnnotation]).toBeTruthy();
    // kubectl, a client no one here wrote, sees the same.
    const k = await kubectl([
      'get',
      'applicationinstances',
      '-n',
      nsA,
      '-o',
      'jsonpath={.items[*].metadata.annotations.apps\\.vworkspace\\.io/reconcile}',
    ]);
    expect(k.stdout.split(' ')).toEqual(['disabled', 'disabled', 'disabled', 'disabled']);
  });

  it('is idempotent: a second run changes nothing and exits 0', async () => {
    const r = await vw(['pause', '-n', nsA, '-l', 'tier', '-o', 'json'], { kubeconfig });
    expect(r.exitCode).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.summary.changed).toBe(0);
    expect(doc.summary.unchanged).toBe(4);
  });

  it('-o name prints names that kubectl understands', async () => {
    const r = await vw(['pause', '-n', nsA, '-l', 'tier=prod', '-o', 'name'], { kubeconfig });
    expect(r.stdout.trim().split('\n')).toEqual([
      'applicationinstance.apps.vworkspace.io/shop-1',
      'applicationinstance.apps.vworkspace.io/shop-2',
    ]);
    const k = await kubectl(['get', '-n', nsA, ...r.stdout.trim().split('\n'), '-o', 'name']);
    expect(k.exitCode).toBe(0);
  });

  it('resume undoes exactly what pause did: hand-paused instances and their releases stay', async () => {
    const r = await vw(['resume', '-n', nsB, 'crm-1', 'crm-2', '--timeout', '60s'], { kubeconfig });
    expect(r.exitCode).toBe(0);
    const crm1 = await get(nsB, 'crm-1');
    expect(crm1.metadata.annotations?.[pauseAnnotation]).toBeUndefined();
    expect(suspendedCondition(crm1)).toMatchObject({ status: 'False', reason: 'ReconcileResumed' });
    expect((await get(nsB, 'crm-2')).metadata.annotations?.[pauseAnnotation]).toBe('disabled');
    const hr = await client.get(resources.helmReleases, 'crm-1', nsB);
    expect((hr.spec as { suspend?: boolean }).suspend).toBe(false);
    expect(hr.metadata.annotations?.[suspendedByAnnotation]).toBeUndefined();
    const forced = await vw(['resume', '-n', nsB, 'crm-2', '--force-all', '--no-wait'], { kubeconfig });
    expect(forced.exitCode).toBe(0);
    expect((await get(nsB, 'crm-2')).metadata.annotations?.[pauseAnnotation]).toBeUndefined();
  });

  it('--all-helmreleases suspends every HelmRelease in scope, and resume un-suspends exactly those', async () => {
    await client.create(
      resources.helmReleases,
      {
        apiVersion: 'helm.toolkit.fluxcd.io/v2',
        kind: 'HelmRelease',
        metadata: { name: 'standalone', namespace: nsA },
        spec: {
          interval: '10m',
          chart: { spec: { chart: 'redis', sourceRef: { kind: 'HelmRepository', name: 'bitnami' } } },
        },
      },
      nsA,
    );
    const r = await vw(['pause', '-n', nsA, '--all', '--all-helmreleases', '--no-wait', '-o', 'json'], { kubeconfig });
    expect(r.exitCode).toBe(0);
    const standalone = await client.get(resources.helmReleases, 'standalone', nsA);
    expect((standalone.spec as { suspend?: boolean }).suspend).toBe(true);
    expect(standalone.metadata.annotations?.[suspendedByAnnotation]).toBeTruthy();
    const resumed = await vw(['resume', '-n', nsA, '--all', '--no-wait'], { kubeconfig });
    expect(resumed.exitCode).toBe(0);
    expect(((await client.get(resources.helmReleases, 'standalone', nsA)).spec as { suspend?: boolean }).suspend).toBe(
      false,
    );
    // Leave nsA paused again for the tests that follow.
    expect((await vw(['pause', '-n', nsA, '--all', '--no-wait'], { kubeconfig })).exitCode).toBe(0);
  });

  it('a restricted user without patch rights is refused before any change (exit 3)', async () => {
    const r = await vw(['pause', '-n', nsB, 'crm-1'], { kubeconfig: restrictedKubeconfig() });
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/may not patch applicationinstances/);
    expect((await get(nsB, 'crm-1')).metadata.annotations?.[pauseAnnotation]).toBeUndefined();
  });

  it('reports instances the operator never confirmed, with exit 4', async () => {
    await sim.stop();
    try {
      const r = await vw(['pause', '-n', nsB, 'crm-1', '--timeout', '3s'], { kubeconfig });
      expect(r.exitCode).toBe(4);
      expect(r.stderr).toMatch(/never reported Suspended=True/);
      expect(r.stderr).toContain(`${nsB}/crm-1`);
    } finally {
      await sim.start();
    }
    const again = await vw(['pause', '-n', nsB, 'crm-1', '--timeout', '60s'], { kubeconfig });
    expect(again.exitCode).toBe(0);
  });

  it('retries through 429s from the server and 409s from a concurrent writer', async () => {
    const ns = await createTestNamespace('pause-busy');
    const names = appNames('busy', 30);
    await createApps(
      client,
      ns,
      names.map((name) => ({ name })),
    );
    const proxy = await startThrottlingProxy(kubeconfig, { throttleEvery: 3 });
    // One patch is held back a while: the writer below changes its object meanwhile, so at least
    // that patch meets a 409, whatever the timing of the others.
    proxy.addRule({ method: 'PATCH', path: /\/applicationinstances\/busy-1$/, action: { delayMs: 3_000 }, times: 1 });
    let writing = true;
    // A concurrent writer bumps every instance's labels, so patches carrying an old resourceVersion conflict.
    const writer = (async () => {
      let n = 0;
      while (writing) {
        await Promise.all(
          names.map((name) =>
            client
              .mergePatch(resources.applicationInstances, name, ns, { metadata: { labels: { bump: String(n) } } })
              .catch(() => undefined),
          ),
        );
        n++;
      }
    })();
    try {
      const r = await vw(['pause', '-n', ns, '-l', 'bump', '--no-wait', '-o', 'json', '-v'], {
        kubeconfig: proxy.kubeconfig,
      });
      expect({ exitCode: r.exitCode, stderr: r.exitCode ? r.stderr : '' }).toEqual({ exitCode: 0, stderr: '' });
      expect(JSON.parse(r.stdout).summary.changed + JSON.parse(r.stdout).summary.unchanged).toBe(30);
      expect(proxy.throttled()).toBeGreaterThan(0);
      expect(r.stderr).toMatch(/-> 429/);
      const conflicts = proxy.requests.filter((q) => q.method === 'PATCH' && q.status === 409);
      expect(conflicts.map((q) => q.path)).toContainEqual(expect.stringMatching(/\/busy-1$/));
      expect(r.stderr).toMatch(/PATCH \S+\/busy-1 -> 409/);
      const { items } = await client.list(resources.applicationInstances, { namespace: ns });
      expect(items.every((i) => i.metadata.annotations?.[pauseAnnotation] === 'disabled')).toBe(true);
    } finally {
      writing = false;
      await writer;
      await proxy.stop();
      // Even on failure: an unpaused instance left behind would fail later suites' cluster-wide checks.
      await deleteNamespace(ns, { wait: true });
    }
  });

  it('finishes the job when re-run after being killed half-way', async () => {
    const ns = await createTestNamespace('pause-crash');
    const names = appNames('big', 300);
    await createApps(
      client,
      ns,
      names.map((name) => ({ name, labels: { e2e: 'crash' } })),
    );
    try {
      const target = resolveKubeTarget({ kubeconfig }, process.env);
      const counter = new KubeClient(target);
      const { execa } = await import('execa');
      const { distBin } = await import('../helpers/plugins');
      const proc = execa(
        `${distBin}/kubectl-vw`,
        ['pause', '-n', ns, '-l', 'e2e=crash', '--no-wait', '--concurrency', '2'],
        {
          reject: false,
          env: { KUBECONFIG: kubeconfig },
        },
      );
      await eventually(
        async () => {
          const { items } = await counter.list(resources.applicationInstances, { namespace: ns });
          return items.filter((i) => i.metadata.annotations?.[pauseAnnotation]).length >= 20;
        },
        60_000,
        'some instances paused',
      );
      proc.kill('SIGKILL');
      await proc;
      const { items } = await counter.list(resources.applicationInstances, { namespace: ns });
      const pausedBefore = items.filter((i) => i.metadata.annotations?.[pauseAnnotation]).length;
      expect(pausedBefore).toBeLessThan(300);
      // The killed run's lock is taken over: its holder process is gone.
      const again = await vw(['pause', '-n', ns, '-l', 'e2e=crash', '--no-wait', '-o', 'json'], { kubeconfig });
      expect(again.exitCode).toBe(0);
      const doc = JSON.parse(again.stdout);
      expect(doc.summary.changed).toBe(300 - pausedBefore);
      expect(doc.summary.unchanged).toBe(pausedBefore);
    } finally {
      await deleteNamespace(ns, { wait: true });
    }
  });
});
