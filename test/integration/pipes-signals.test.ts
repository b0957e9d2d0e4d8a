import { join } from 'node:path';
import { execa } from 'execa';
import type { KubeClient } from '../../lib/kube/client';
import { pauseAnnotation, resources } from '../../lib/operator/names';
import { adminKubeconfig, createTestNamespace, deleteNamespace } from '../support/kube-env';
import { SimOperator } from '../support/sim-operator';
import { adminClient, appNames, createApps, distBin, ensureStorageLocation, eventually } from '../helpers/plugins';

// As users run it: through real shell pipes with slow writers and early readers, and interrupted
// by Ctrl-C (at a prompt, too) and SIGTERM.

const leases = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true };
const noStack = (stderr: string) => expect(stderr).not.toMatch(/\n\s+at /);

describe('pipes and signals', () => {
  let kubeconfig: string;
  let client: KubeClient;
  let ns: string;
  let sim: SimOperator;
  const bin = join(distBin, 'kubectl-vw');
  const env = () => ({ KUBECONFIG: kubeconfig, NO_COLOR: '1', PATH: `${distBin}:${process.env.PATH}` });
  const sh = (script: string, input?: string) =>
    execa('bash', ['-c', script], { env: env(), reject: false, ...(input === undefined ? {} : { input }) });
  const holder = async (namespace = 'kube-system') =>
    (
      (await client.find(leases, 'kubectl-vw', namespace).catch(() => undefined))?.spec as
        | { holderIdentity?: string }
        | undefined
    )?.holderIdentity;

  beforeAll(async () => {
    kubeconfig = adminKubeconfig();
    client = adminClient(kubeconfig);
    await ensureStorageLocation(client);
    ns = await createTestNamespace('pipes');
    await createApps(client, ns, [
      { name: 'p1', annotations: { [pauseAnnotation]: 'disabled' } },
      { name: 'p2', annotations: { [pauseAnnotation]: 'disabled' } },
    ]);
    sim = new SimOperator({ kubeconfig, namespaces: [ns] });
    await sim.start();
  });

  afterAll(async () => {
    await sim?.stop();
    await deleteNamespace(ns, { wait: true });
  });

  it("reads names from a real pipe whatever the writer's pace, NAMESPACE/NAME lines included", async () => {
    const r = await sh(
      `(sleep 1; echo applicationinstance.apps.vworkspace.io/p1; sleep 1; echo ${ns}/p2) | ${bin} backup -A -f - --ttl 8760h --timeout 60s -o json`,
    );
    noStack(r.stderr);
    expect(r.exitCode).toBe(0);
    expect((JSON.parse(r.stdout).items as { application: string }[]).map((i) => i.application).sort()).toEqual([
      'p1',
      'p2',
    ]);
  });

  it("the README's own chain: pause -o name | backup -f -", async () => {
    const r = await sh(
      `${bin} pause -n ${ns} p1 p2 -o name --timeout 60s | ${bin} backup -n ${ns} -f - --ttl 8760h --timeout 60s -o name`,
    );
    noStack(r.stderr);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/operation\.ops\.vworkspace\.io\/p1-final-backup/);
  });

  it('stdout closed early (| true, | head): quiet, exit 0 once the work is done, the lock released', async () => {
    // Enough output to outlast a pipe's buffer, so the writes meet the closed pipe.
    const big = await createTestNamespace('pipes-big');
    try {
      await createApps(
        client,
        big,
        appNames('many', 300).map((name) => ({ name })),
      );
      for (const reader of ['true', 'head -c 1 >/dev/null']) {
        const r = await sh(
          `${bin} pause -n ${big} --all --no-wait -o yaml | ${reader}; echo "exit=\${PIPESTATUS[0]}" >&2`,
        );
        noStack(r.stderr);
        expect(r.stderr).toMatch(/exit=0/);
        expect(await holder()).toBeUndefined();
        expect(await holder('vworkspace-system')).toBeUndefined();
        expect((await sh(`${bin} resume -n ${big} --all --no-wait -o name >/dev/null`)).exitCode).toBe(0);
      }
    } finally {
      await deleteNamespace(big, { wait: true });
    }
  });

  it('a slow reader of stderr gets every line: a run waits for stderr to drain, as for stdout, before it exits', async () => {
    // 300 warnings of about 290 characters are more than a pipe's 64 KiB: what the reader has not
    // taken yet is still in the process when the run ends, and exiting at once would drop it.
    const wide = await createTestNamespace('pipes-stderr');
    try {
      const names = Array.from({ length: 300 }, (_, i) => `${'long-name-'.repeat(5)}app-${i}`);
      await createApps(
        client,
        wide,
        names.map((name) => ({ name })),
      );
      const r = await sh(
        `${bin} backup -n ${wide} --all --ttl 720h --dry-run=client -v 2>&1 >/dev/null | (sleep 3; grep -c 'is not paused')`,
      );
      expect(r.stdout.trim()).toBe('300');
    } finally {
      await deleteNamespace(wide, { wait: true });
    }
  });

  it('SIGTERM (and SIGINT) while waiting: exit 130, the lock released', async () => {
    const names = appNames('sig', 3);
    await createApps(
      client,
      ns,
      names.map((name) => ({ name })),
    );
    await sim.stop(); // nobody confirms the pause: the run waits, holding the lock
    try {
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        const run = execa(bin, ['pause', '-n', ns, ...names, '--timeout', '60s'], { env: env(), reject: false });
        await eventually(async () => (await holder())?.includes('PauseResult'), 30_000, 'the lock held');
        run.kill(signal);
        const r = await run;
        expect(r.exitCode).toBe(130);
        expect(r.stderr).toMatch(/interrupted/);
        noStack(r.stderr);
        expect(await holder()).toBeUndefined();
        await sh(`${bin} resume -n ${ns} ${names.join(' ')} --no-wait`);
      }
    } finally {
      await sim.start();
    }
  });

  it('Ctrl-C at a confirmation prompt: exit 130, nothing changed', async () => {
    await client
      .create(
        resources.clusters,
        {
          apiVersion: 'ops.vworkspace.io/v1alpha1',
          kind: 'Cluster',
          metadata: { name: 'ctrl-c', namespace: 'vworkspace-system' },
          spec: { odoo: { url: 'http://127.0.0.1:9' } },
        },
        'vworkspace-system',
      )
      .catch(async (err) => {
        if ((err as { status?: number }).status !== 404) throw err;
        await client.create(
          { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false },
          { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'vworkspace-system' } },
        );
        await client.create(
          resources.clusters,
          {
            apiVersion: 'ops.vworkspace.io/v1alpha1',
            kind: 'Cluster',
            metadata: { name: 'ctrl-c', namespace: 'vworkspace-system' },
            spec: { odoo: { url: 'http://127.0.0.1:9' } },
          },
          'vworkspace-system',
        );
      });
    try {
      // util-linux `script` gives the command a terminal, as an interactive shell would.
      const run = execa(
        'script',
        ['-qec', `${bin} decommission ctrl-c --force-preflight --skip-backup-check`, '/dev/null'],
        { env: { ...env(), TERM: 'xterm' }, reject: false },
      );
      let seen = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no prompt; saw: ${seen}`)), 30_000);
        run.stdout?.on('data', (c: Buffer) => {
          seen += c.toString();
          if (/Continue\? \[y\/N\]/.test(seen)) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      run.stdin?.write('\x03');
      const r = await run;
      expect(r.exitCode).toBe(130);
      expect(String(r.stdout)).toMatch(/interrupted at the prompt: nothing was changed/);
      const c = await client.get(resources.clusters, 'ctrl-c', 'vworkspace-system');
      expect(c.metadata.deletionTimestamp).toBeUndefined();
      expect(await holder()).toBeUndefined();
    } finally {
      await client
        .mergePatch(resources.clusters, 'ctrl-c', 'vworkspace-system', { metadata: { finalizers: null } })
        .catch(() => undefined);
      await client.delete(resources.clusters, 'ctrl-c', 'vworkspace-system').catch(() => undefined);
    }
  });
});
