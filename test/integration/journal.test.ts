import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { JournalEntry } from '../../lib/steps/journal/entry';
import { journalBounds, writeEntry } from '../../lib/steps/journal/store';
import { adminKubeconfig, createTestNamespace, deleteNamespace, kubectl, kubectlOk } from '../support/kube-env';
import { adminClient, appNames, createApps, distBin, eventually, repoRoot, unwrapped, vw } from '../helpers/plugins';
import { observe, type Observer } from '../helpers/observe';

// Every mutating run is recorded in kube-system/kubectl-vw-journal, before it acts and once it
// ends; concurrent writers lose nothing; the journal stays bounded; a run killed half-way shows as
// interrupted; a user who may not write it still gets the run done.

const journal = 'kubectl-vw-journal';

interface HistoryItem extends JournalEntry {
  state: string;
}

describe('the run journal', () => {
  let kubeconfig: string;
  let ns: string;
  let seen: Observer;
  let kubeSystemUID: string;
  const user = 'vw-journal-test';
  /** RBAC objects applied, deleted afterwards. */
  const granted: string[] = [];
  const history = async (): Promise<{ items: HistoryItem[]; summary: { rolledUp: number } }> => {
    const r = await vw(['history', '-o', 'json'], { kubeconfig });
    expect(r.exitCode).toBe(0);
    return JSON.parse(r.stdout);
  };
  const stored = async () => (await seen.configMap('kube-system', journal))?.data ?? {};
  const entries = async () =>
    Object.entries(await stored())
      .filter(([k]) => k.startsWith('run-'))
      .map(([, v]) => JSON.parse(v) as JournalEntry);

  beforeAll(async () => {
    kubeconfig = adminKubeconfig();
    seen = observe(kubeconfig);
    ns = await createTestNamespace('journal');
    await createApps(
      adminClient(kubeconfig),
      ns,
      appNames('app', 10).map((name) => ({ name })),
    );
    await kubectlOk(['delete', 'configmap', journal, '-n', 'kube-system', '--ignore-not-found']);
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    kubeSystemUID = (await kc.makeApiClient(CoreV1Api).readNamespace({ name: 'kube-system' })).metadata?.uid ?? '';
  });

  afterAll(async () => {
    await deleteNamespace(ns);
    await kubectl(['delete', 'lease', 'kubectl-vw', '-n', 'kube-system', '--ignore-not-found']);
    for (const yaml of granted) await kubectl(['delete', '--ignore-not-found', '-f', '-'], { input: yaml });
  });

  it('parallel runs: each is recorded with who, where, what, on which cluster, and how it ended', async () => {
    const runs = await Promise.all(
      appNames('app', 6).map((app) => vw(['pause', '-n', ns, app, '--no-wait'], { kubeconfig, timeoutMs: 170_000 })),
    );
    // Two runs never overlap: one that finds the lock taken by another live run refuses (exit 3).
    for (const r of runs) expect([0, 3]).toContain(r.exitCode);
    const ok = runs.filter((r) => r.exitCode === 0).length;
    expect(ok).toBeGreaterThan(0);
    const h = await history();
    const pauses = h.items.filter((i) => i.command === 'pause');
    expect(pauses).toHaveLength(6);
    for (const p of pauses)
      expect(p).toMatchObject({
        user: { username: 'vw-test-admin', verified: true },
        target: { kubeSystemUID, context: 'vw-test-admin' },
      });
    const succeeded = pauses.filter((p) => p.state === 'succeeded');
    expect(succeeded).toHaveLength(ok);
    for (const p of succeeded) expect(p).toMatchObject({ exitCode: 0, counts: { pause: { changed: 1, failed: 0 } } });
    for (const p of pauses.filter((x) => x.state !== 'succeeded'))
      expect(p).toMatchObject({ state: 'refused', exitCode: 3, message: expect.stringMatching(/holds the lock/) });
    // Newest first, as written.
    const started = h.items.map((i) => i.startedAt);
    expect(started).toEqual([...started].sort().reverse());
    // Connection secrets are never recorded, only the target's identity.
    expect(JSON.stringify(h.items)).not.toMatch(/"connection"/);
    const table = await vw(['history'], { kubeconfig, env: { COLUMNS: '200' } });
    expect(table.stdout).toMatch(/^STARTED\s+COMMAND\s+USER\s+HOST\s+OUTCOME/);
    expect(table.stdout.match(/pause\s+vw-test-admin\s+\S+\s+(succeeded|refused)/g)).toHaveLength(6);
  }, 300_000);

  it('dry runs and refused usage are not recorded: only runs that may act', async () => {
    const before = (await entries()).length;
    expect((await vw(['pause', '-n', ns, 'app-7', '--dry-run=client'], { kubeconfig })).exitCode).toBe(0);
    expect((await vw(['pause', '-n', ns, 'app-7', '--dry-run=server'], { kubeconfig })).exitCode).toBe(0);
    expect((await vw(['pause', '-n', ns, 'no-such-app'], { kubeconfig })).exitCode).toBe(2);
    expect((await entries()).length).toBe(before);
  });

  it('40 writers at once lose no entry (optimistic concurrency, re-read on 409)', async () => {
    const base = await entries();
    const mark = `burst-${Date.now()}`;
    const at = new Date().toISOString();
    const writers = Array.from({ length: 40 }, (_, i) => {
      const entry: JournalEntry = {
        ...(base[0] as JournalEntry),
        id: `${mark}-${i}`.replace(/[^a-z0-9-]/g, ''),
        command: mark,
        startedAt: at,
      };
      // A client of its own per writer: 40 separate runs, as far as the API server can tell.
      return writeEntry(adminClient(kubeconfig), entry);
    });
    await Promise.all(writers);
    const after = await entries();
    expect(after.filter((e) => e.command === mark)).toHaveLength(40);
    // Nothing written before was lost either.
    expect(after.filter((e) => base.some((b) => b.id === e.id))).toHaveLength(base.length);
  }, 120_000);

  it('is bounded: the newest 100 runs in full, older ones rolled into a summary, under 420 KiB', async () => {
    const before = (await entries()).length;
    const big = { names: Array.from({ length: 5000 }, (_, i) => `tenant-${i}/application-with-a-long-name-${i}`) };
    const template = (await entries())[0] as JournalEntry;
    const client = adminClient(kubeconfig);
    for (let i = 0; i < 30; i++)
      await Promise.all(
        Array.from({ length: 3 }, (_, j) =>
          writeEntry(client, {
            ...template,
            id: `bound${i}x${j}`,
            command: 'bound',
            options: big,
            message: 'x'.repeat(5000),
            // Older than the runs above: the oldest go first, whoever wrote them.
            startedAt: new Date(Date.now() - 600_000 + i * 1000 + j).toISOString(),
          }),
        ),
      );
    const data = await stored();
    const kept = Object.keys(data).filter((k) => k.startsWith('run-'));
    expect(kept).toHaveLength(journalBounds.maxEntries);
    const summary = JSON.parse(data.summary ?? '{}');
    expect(summary.rolledUp).toBe(before + 90 - journalBounds.maxEntries);
    for (const k of kept) expect(Buffer.byteLength(data[k] ?? '')).toBeLessThanOrEqual(journalBounds.maxEntryBytes);
    const bytes = Object.entries(data).reduce((n, [k, v]) => n + k.length + Buffer.byteLength(v), 0);
    expect(bytes).toBeLessThan(420 * 1024);
    const h = await history();
    expect(h.summary.rolledUp).toBe(summary.rolledUp);
    const table = await vw(['history'], { kubeconfig });
    expect(unwrapped(table.stderr)).toMatch(new RegExp(`and ${summary.rolledUp} older runs .* rolled up`));
  }, 300_000);

  it('a run killed half-way (SIGKILL) is shown as interrupted, by history and by status', async () => {
    // No operator watches this namespace: the pause waits for a report that never comes.
    const run = execa(join(distBin, 'kubectl-vw'), ['pause', '-n', ns, 'app-8', '--timeout', '5m'], {
      env: { KUBECONFIG: kubeconfig, NO_COLOR: '1' },
      reject: false,
    });
    // It acted (the annotation is there) and its start is recorded, with no end.
    await eventually(
      async () =>
        (await seen.get('applicationInstances', ns, 'app-8'))?.metadata.annotations?.[
          'apps.vworkspace.io/reconcile'
        ] === 'disabled',
      60_000,
      'the pause',
    );
    const live = (await history()).items.find((i) => i.pid === run.pid);
    expect(live).toMatchObject({ command: 'pause', state: 'running' });
    expect(live?.finishedAt).toBeUndefined();
    run.kill('SIGKILL');
    await run;
    const killed = (await history()).items.find((i) => i.pid === run.pid);
    expect(killed).toMatchObject({ command: 'pause', state: 'interrupted' });
    expect(killed?.outcome).toBeUndefined();
    const table = await vw(['history'], { kubeconfig, env: { COLUMNS: '200' } });
    expect(table.stdout).toMatch(/pause\s+vw-test-admin\s+\S+\s+interrupted \(no end recorded\)/);
    const status = await vw(['status'], { kubeconfig });
    expect(unwrapped(status.stdout)).toMatch(/Last run: pause by vw-test-admin from \S+, started \S+: interrupted/);
    const json = JSON.parse((await vw(['status', '-o', 'json'], { kubeconfig })).stdout);
    expect(json.lastRun).toMatchObject({ command: 'pause', state: 'interrupted' });
  }, 180_000);

  it('a user with exactly what kubectl vw rbac prints, which leaves out the journal: the run goes on, with one warning, unrecorded', async () => {
    const rbac = await vw(['rbac', 'pause', '-n', ns, '--no-wait', '--user', user, '--role-name', user], {
      kubeconfig,
    });
    expect(rbac.exitCode).toBe(0);
    granted.push(rbac.stdout);
    await kubectlOk(['apply', '-f', '-'], { input: rbac.stdout });
    const before = await entries();
    const r = await vw(['pause', '-n', ns, 'app-9', '--no-wait', '--as', user], { kubeconfig });
    expect(unwrapped(r.stderr)).toMatch(
      /warning: not recorded in the run journal: vw-journal-test may not write ConfigMap kube-system\/kubectl-vw-journal \(get, create, patch\); the run goes on, unrecorded/,
    );
    expect(r.exitCode).toBe(0);
    const app = await seen.get('applicationInstances', ns, 'app-9');
    expect(app?.metadata.annotations?.['apps.vworkspace.io/reconcile']).toBe('disabled');
    expect((await entries()).length).toBe(before.length);
  }, 120_000);

  it("with the README's Role for the journal too, the same user's runs are recorded, as the API server names them", async () => {
    // The Role of README "RBAC", as written there, bound to the user.
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const role =
      /```yaml\n(apiVersion: rbac.authorization.k8s.io\/v1\nkind: Role\nmetadata: \{ name: kubectl-vw-journal[\s\S]*?)```/.exec(
        readme,
      )?.[1];
    expect(role).toBeDefined();
    const binding = [
      'apiVersion: rbac.authorization.k8s.io/v1',
      'kind: RoleBinding',
      'metadata: { name: kubectl-vw-journal, namespace: kube-system }',
      'roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: kubectl-vw-journal }',
      `subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: ${user} }]`,
    ].join('\n');
    const both = `${role}---\n${binding}\n`;
    granted.push(both);
    await kubectlOk(['apply', '-f', '-'], { input: both });
    // Created by its first writer, written by the next: delete it, so that this user creates it.
    await kubectlOk(['delete', 'configmap', journal, '-n', 'kube-system', '--ignore-not-found']);
    const r = await vw(['pause', '-n', ns, 'app-10', '--no-wait', '--as', user], { kubeconfig });
    expect(r.stderr).not.toMatch(/not recorded/);
    expect(r.exitCode).toBe(0);
    const recorded = await entries();
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({
      command: 'pause',
      outcome: 'succeeded',
      user: { username: user, verified: true },
      counts: { pause: { changed: 1 } },
    });
    expect((await vw(['history'], { kubeconfig })).stdout).toMatch(/pause\s+vw-journal-test\s+\S+\s+succeeded/);
  }, 120_000);
});
