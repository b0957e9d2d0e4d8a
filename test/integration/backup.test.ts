import type { KubeClient } from '../../lib/kube/client';
import { resources } from '../../lib/operator/names';
import { adminKubeconfig, createTestNamespace, deleteNamespace, kubectl } from '../support/kube-env';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execa } from 'execa';
import { adminClient, createApps, distBin, ensureStorageLocation, vw } from '../helpers/plugins';
import { SimOperator } from '../support/sim-operator';

interface Record {
  application: string;
  phase: string;
  reason?: string;
  outcome: string;
  safe: boolean;
  backup?: { name: string; phase?: string; expiration?: string };
}

describe('kubectl vw backup', () => {
  let kubeconfig: string;
  let client: KubeClient;
  let ns: string;
  let sim: SimOperator;

  beforeAll(async () => {
    kubeconfig = adminKubeconfig();
    client = adminClient(kubeconfig);
    await ensureStorageLocation(client);
    ns = await createTestNamespace('backup');
    await createApps(client, ns, [
      { name: 'web', labels: { e2e: 'backup' } },
      { name: 'db', labels: { e2e: 'backup' } },
      { name: 'cache', capable: false, labels: { e2e: 'backup' } },
    ]);
    sim = new SimOperator({ kubeconfig, namespaces: [ns] });
    await sim.start();
    // A final backup follows the pause (step 1), or it does not count.
    const p = await vw(['pause', '-n', ns, '--all', '--timeout', '60s'], { kubeconfig });
    expect({ code: p.exitCode, err: p.exitCode ? p.stderr : '' }).toEqual({ code: 0, err: '' });
  });

  afterAll(async () => {
    await sim?.stop();
    await deleteNamespace(ns, { wait: true });
  });

  const operations = async () => (await client.list(resources.operations, { namespace: ns })).items;

  it.each(['1y', '-5h', '0', 'garbage', '10d', '+8760h', '.5h', '1.h', '8760h.5m'])(
    'refuses ttl %p before any Operation exists (exit 2)',
    async (ttl) => {
      const r = await vw(['backup', '-n', ns, '-l', 'e2e=backup', `--ttl=${ttl}`, '--allow-short-ttl'], { kubeconfig });
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/invalid --ttl .* such as 8760h, 720h30m/);
      expect(await operations()).toHaveLength(0);
    },
  );

  it('requires --ttl', async () => {
    const r = await vw(['backup', '-n', ns, 'web'], { kubeconfig });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--ttl is required/);
  });

  it('refuses an unknown storage location before any Operation exists', async () => {
    const r = await vw(['backup', '-n', ns, '-l', 'e2e=backup', '--ttl', '720h', '--storage-location', 'nowhere'], {
      kubeconfig,
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/BackupStorageLocation "nowhere" not found in namespace velero/);
    expect(await operations()).toHaveLength(0);
  });

  it('a location that is not Available: a warning, or refused with --require-available-location', async () => {
    await ensureStorageLocation(client, 'aws-dr', 'Unavailable');
    const refused = await vw(
      ['backup', '-n', ns, 'web', '--ttl', '720h', '--storage-location', 'aws-dr', '--require-available-location'],
      {
        kubeconfig,
      },
    );
    expect(refused.exitCode).toBe(3);
    expect(refused.stderr).toMatch(/BackupStorageLocation velero\/aws-dr is Unavailable, not Available/);
    expect(await operations()).toHaveLength(0);
    const warned = await vw(
      ['backup', '-n', ns, 'web', '--ttl', '720h', '--storage-location', 'aws-dr', '--dry-run=client'],
      { kubeconfig },
    );
    expect(warned.exitCode).toBe(0);
    expect(warned.stderr).toMatch(/warning: BackupStorageLocation velero\/aws-dr is Unavailable/);
  });

  it('--name-suffix and --no-snapshot-volumes reach the Operation', async () => {
    const r = await vw(
      [
        'backup',
        '-n',
        ns,
        'web',
        '--ttl',
        '720h',
        '--name-suffix',
        'last',
        '--no-snapshot-volumes',
        '--dry-run=client',
        '-o',
        'json',
      ],
      {
        kubeconfig,
      },
    );
    expect(r.exitCode).toBe(0);
    const [op] = JSON.parse(r.stdout).manifests;
    expect(op.metadata.name).toBe('web-last');
    expect(op.spec.parameters).toMatchObject({ snapshotVolumes: false, storageLocation: 'aws-primary' });
  });

  it('--dry-run=server validates the Operations against the CRD and creates none', async () => {
    const r = await vw(['backup', '-n', ns, '-l', 'e2e=backup', '--ttl', '720h', '--dry-run=server', '-o', 'yaml'], {
      kubeconfig,
    });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/kind: Operation/);
    expect(r.stdout).toMatch(/name: web-final-backup/);
    expect(await operations()).toHaveLength(0);
  });

  it('backs up every application, waits, and says which data is safe', async () => {
    const r = await vw(
      [
        'backup',
        '-n',
        ns,
        '-l',
        'e2e=backup',
        '--ttl',
        '720h',
        '--csi-snapshot-class',
        'csi-rbd',
        '-o',
        'json',
        '--timeout',
        '90s',
      ],
      {
        kubeconfig,
      },
    );
    expect(r.exitCode).toBe(0);
    const items = JSON.parse(r.stdout).items as Record[];
    const byApp = Object.fromEntries(items.map((i) => [i.application, i]));
    expect(byApp.web).toMatchObject({ phase: 'Succeeded', safe: true, outcome: 'counts' });
    expect(byApp.web?.backup?.phase).toBe('Completed');
    expect(byApp.web?.backup?.expiration).toBeTruthy();
    expect(byApp.cache).toMatchObject({
      phase: 'Failed',
      reason: 'BackupNotSupported',
      outcome: 'no-backup-capability',
      safe: false,
    });
    // Off a terminal, progress is a plain line at most every few seconds, never a redraw.
    expect(r.stderr).not.toContain('\r');
    expect(r.stderr).toMatch(/backup: 2 final backups that count, 1 without backup capability/);
    // The Operation matches the procedure's manifest, as kubectl sees it.
    const k = await kubectl(['get', 'operation', '-n', ns, 'web-final-backup', '-o', 'jsonpath={.spec.parameters}']);
    expect(JSON.parse(k.stdout)).toEqual({
      storageLocation: 'aws-primary',
      snapshotVolumes: true,
      csiSnapshotClassName: 'csi-rbd',
      ttl: '720h',
    });
  });

  it('--strict makes a missing backup capability fail the run', async () => {
    const r = await vw(['backup', '-n', ns, '-l', 'e2e=backup', '--ttl', '720h', '--strict'], { kubeconfig });
    expect(r.exitCode).toBe(1);
  });

  it('re-running adopts the existing Operations and creates no duplicates', async () => {
    const before = (await operations()).map((o) => o.metadata.uid).sort();
    const r = await vw(['backup', '-n', ns, '-l', 'e2e=backup', '--ttl', '720h', '-o', 'wide'], { kubeconfig });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/keep/);
    expect((await operations()).map((o) => o.metadata.uid).sort()).toEqual(before);
  });

  it('a backup failing for another reason fails the run; --retry-failed re-creates it', async () => {
    const ns2 = await createTestNamespace('backup-fail');
    await createApps(client, ns2, [{ name: 'erp' }, { name: 'wiki' }]);
    const sim2 = new SimOperator({ kubeconfig, namespaces: [ns2] });
    sim2.faults.failBackups.set('erp', 'VeleroBackupFailed');
    await sim2.start();
    try {
      expect((await vw(['pause', '-n', ns2, '--all', '--timeout', '60s'], { kubeconfig })).exitCode).toBe(0);
      const r = await vw(['backup', '-n', ns2, 'erp', 'wiki', '--ttl', '720h', '-o', 'json', '--timeout', '60s'], {
        kubeconfig,
      });
      expect(r.exitCode).toBe(1);
      const items = JSON.parse(r.stdout).items as Record[];
      expect(items.find((i) => i.application === 'erp')).toMatchObject({
        phase: 'Failed',
        outcome: 'failed',
        safe: false,
      });
      expect(items.find((i) => i.application === 'wiki')).toMatchObject({ safe: true });
      sim2.faults.failBackups.delete('erp');
      const retry = await vw(
        ['backup', '-n', ns2, 'erp', 'wiki', '--ttl', '720h', '--retry-failed', '-o', 'json', '--timeout', '60s'],
        { kubeconfig },
      );
      expect(retry.exitCode).toBe(0);
      expect((JSON.parse(retry.stdout).items as Record[]).every((i) => i.safe)).toBe(true);
    } finally {
      await sim2.stop();
      await deleteNamespace(ns2, { wait: true });
    }
  });

  it("a PartiallyFailed Velero backup shows its phase when the Operation Failed; the fix keeps the run's --ttl", async () => {
    const ns6 = await createTestNamespace('backup-partial');
    await createApps(client, ns6, [{ name: 'erp' }]);
    const sim6 = new SimOperator({ kubeconfig, namespaces: [ns6] });
    sim6.faults.failBackups.set('erp', { reason: 'VolumeSnapshotFailed', veleroPhase: 'PartiallyFailed' });
    await sim6.start();
    try {
      expect((await vw(['pause', '-n', ns6, '--all', '--timeout', '60s'], { kubeconfig })).exitCode).toBe(0);
      const args = ['backup', '-n', ns6, 'erp', '--ttl', '720h', '--timeout', '60s'];
      const r = await vw([...args, '-o', 'json'], { kubeconfig });
      expect(r.exitCode).toBe(1);
      const [item] = JSON.parse(r.stdout).items as (Record & { fix?: string })[];
      expect(item).toMatchObject({ phase: 'Failed', outcome: 'failed' });
      expect(item?.backup?.phase).toBe('PartiallyFailed');
      // Following the hint keeps the retention this run chose.
      expect(item?.fix).toMatch(/--ttl 720h/);
      expect(item?.fix).not.toMatch(/8760h/);
      const table = await vw(args, { kubeconfig });
      expect(table.stdout.split('\n').find((l) => l.includes('erp'))).toMatch(/Failed\s+PartiallyFailed/);
      expect(table.stderr).toMatch(/fix: kubectl vw backup -n \S+ erp --ttl 720h --retry-failed/);
    } finally {
      await sim6.stop();
      await deleteNamespace(ns6, { wait: true });
    }
  });

  it('a name too long for <name>-final-backup is planned as failed in every mode, and the rest proceed', async () => {
    const ns7 = await createTestNamespace('backup-long');
    const long = `long-${'x'.repeat(240)}`; // 245 characters: a valid ApplicationInstance name
    await createApps(client, ns7, [{ name: long }, { name: 'short' }]);
    const sim7 = new SimOperator({ kubeconfig, namespaces: [ns7] });
    await sim7.start();
    try {
      expect((await vw(['pause', '-n', ns7, '--all', '--timeout', '60s'], { kubeconfig })).exitCode).toBe(0);
      for (const mode of ['client', 'server']) {
        const dry = await vw(['backup', '-n', ns7, '--all', '--ttl', '720h', `--dry-run=${mode}`, '-o', 'json'], {
          kubeconfig,
        });
        expect(dry.exitCode).toBe(1);
        const rows = JSON.parse(dry.stdout).items as { application: string; result: string; message?: string }[];
        expect(rows.find((x) => x.application === long)).toMatchObject({ result: 'failed' });
        expect(rows.find((x) => x.application === long)?.message).toMatch(/over the 253 .*--name-suffix/);
        expect(rows.find((x) => x.application === 'short')?.result).not.toBe('failed');
      }
      const r = await vw(['backup', '-n', ns7, '--all', '--ttl', '720h', '--timeout', '60s', '-o', 'json'], {
        kubeconfig,
      });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).not.toMatch(/422|Invalid/);
      const tooLong = r.stderr.split('\n').filter((l) => l.includes('253'));
      expect(tooLong).toHaveLength(1);
      expect(tooLong[0]).toMatch(/--name-suffix of at most 7 characters/);
      const items = JSON.parse(r.stdout).items as Record[];
      expect(items.find((i) => i.application === 'short')).toMatchObject({ safe: true });
      expect(items.find((i) => i.application === long)).toMatchObject({ safe: false, outcome: 'name-too-long' });
      const ops = (await client.list(resources.operations, { namespace: ns7 })).items.map((o) => o.metadata.name);
      expect(ops).toEqual(['short-final-backup']);
    } finally {
      await sim7.stop();
      await deleteNamespace(ns7, { wait: true });
    }
  });

  it('off a terminal: no progress bars or lines, one heartbeat every 30 s while waiting', async () => {
    const ns8 = await createTestNamespace('backup-log');
    await createApps(client, ns8, [{ name: 'quick' }, { name: 'stuck' }]);
    const sim8 = new SimOperator({ kubeconfig, namespaces: [ns8] });
    sim8.faults.hangBackups.add('stuck');
    await sim8.start();
    try {
      expect((await vw(['pause', '-n', ns8, '--all', '--timeout', '60s'], { kubeconfig })).exitCode).toBe(0);
      // The stuck one first: Velero (v1.18) runs one namespace's backups one after another, so the
      // quick one waits Queued behind it, and the heartbeat says so.
      const first = await vw(['backup', '-n', ns8, 'stuck', '--ttl', '720h', '--wait=false'], { kubeconfig });
      expect(first.exitCode).toBe(0);
      const r = await vw(['backup', '-n', ns8, '--all', '--ttl', '720h', '--timeout', '40s'], { kubeconfig });
      expect(r.exitCode).toBe(4);
      expect(r.stderr).not.toMatch(/\[#|\[\.|Pending \d|Running \d/);
      const beats = r.stderr.split('\n').filter((l) => l.startsWith('still waiting:'));
      expect(beats).toHaveLength(1);
      expect(beats[0]).toMatch(
        /^still waiting: 2 of 2 backups running \(Velero: Queued 1, InProgress 1\), slowest (stuck|quick)-final-backup [23]\ds$/,
      );
      expect(r.stderr).toMatch(/1 Velero backup still queued, 1 in progress/);
    } finally {
      await sim8.stop();
      await deleteNamespace(ns8, { wait: true });
    }
  }, 120_000);

  it('2,000 warnings are one: 300 unpaused applications in a client dry run', async () => {
    const ns9 = await createTestNamespace('backup-many');
    const names = Array.from({ length: 300 }, (_, i) => `app-${i}`);
    await createApps(
      client,
      ns9,
      names.map((name) => ({ name })),
    );
    try {
      const r = await vw(['backup', '-n', ns9, '--all', '--ttl', '720h', '--dry-run=client'], { kubeconfig });
      expect(r.exitCode).toBe(0);
      const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning:'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(
        /^warning: 300 applications are not paused: (\S+\/app-\d+, ){3}\.\.\. \(-v says each.*kubectl vw pause --all$/,
      );
      const verbose = await vw(['backup', '-n', ns9, '--all', '--ttl', '720h', '--dry-run=client', '-v'], {
        kubeconfig,
      });
      expect(verbose.stderr.split('\n').filter((l) => /^warning: .* is not paused/.test(l))).toHaveLength(300);
    } finally {
      await deleteNamespace(ns9, { wait: true });
    }
  });

  it('times out on slow Operations with exit 4; re-running waits on, without duplicates', async () => {
    const ns3 = await createTestNamespace('backup-slow');
    await createApps(client, ns3, [{ name: 'slow' }]);
    const sim3 = new SimOperator({ kubeconfig, namespaces: [ns3] });
    sim3.faults.hangBackups.add('slow');
    await sim3.start();
    try {
      expect((await vw(['pause', '-n', ns3, '--all', '--timeout', '60s'], { kubeconfig })).exitCode).toBe(0);
      const r = await vw(['backup', '-n', ns3, 'slow', '--ttl', '720h', '--timeout', '3s'], { kubeconfig });
      expect(r.exitCode).toBe(4);
      expect(r.stdout).toMatch(/TIMED OUT/);
      sim3.faults.hangBackups.delete('slow');
      await sim3.crash();
      await sim3.restart();
      const again = await vw(['backup', '-n', ns3, 'slow', '--ttl', '720h', '--timeout', '60s'], { kubeconfig });
      expect(again.exitCode).toBe(0);
      expect((await client.list(resources.operations, { namespace: ns3 })).items).toHaveLength(1);
    } finally {
      await sim3.stop();
      await deleteNamespace(ns3, { wait: true });
    }
  });

  it('on a terminal: a progress bar and colour on stderr; NO_COLOR turns colour off', async () => {
    const esc = String.fromCharCode(27);
    const ns5 = await createTestNamespace('backup-tty');
    await createApps(client, ns5, [{ name: 't1' }, { name: 't2' }, { name: 't3' }, { name: 't4' }]);
    const sim5 = new SimOperator({ kubeconfig, namespaces: [ns5], faults: { phaseDelayMs: 300 } });
    await sim5.start();
    expect((await vw(['pause', '-n', ns5, '--all', '--timeout', '60s'], { kubeconfig })).exitCode).toBe(0);
    // Only what a terminal session would have: CI may export NO_COLOR, which must not leak in here.
    const terminalEnv = { PATH: process.env.PATH ?? '', HOME: tmpdir(), KUBECONFIG: kubeconfig, TERM: 'xterm' };
    // util-linux `script` gives the command a pseudo-terminal, as an interactive shell would.
    const onTty = (extraEnv: string) =>
      execa(
        'script',
        [
          '-qec',
          `${extraEnv} ${join(distBin, 'kubectl-vw')} backup -n ${ns5} t1 t2 --ttl 720h --timeout 60s`,
          '/dev/null',
        ],
        { env: terminalEnv, extendEnv: false, reject: false },
      );
    try {
      const colour = await onTty('');
      expect(colour.exitCode).toBe(0);
      expect(colour.stdout).toMatch(/\[#+\.*\] \d\/2 {2}Pending \d {2}Running \d/); // the bar, redrawn in place
      expect(colour.stdout).toContain(`${esc}[2K`);
      expect(colour.stdout).toContain(`${esc}[1m`); // bold table headers
      // stdout into a pipe (stderr still on the terminal): the data stays free of escape codes.
      const piped = await execa(
        'script',
        ['-qec', `${join(distBin, 'kubectl-vw')} backup -n ${ns5} t3 t4 --ttl 720h | cat`, '/dev/null'],
        { env: terminalEnv, extendEnv: false, reject: false },
      );
      expect(piped.stdout).toMatch(new RegExp(`(^|\\n|${esc}\\[2K)NAMESPACE +APPLICATION`)); // no bold header
      expect(piped.stdout).toContain(`${esc}[2m`); // while stderr, still a terminal, keeps its dim timer
      const plain = await onTty('NO_COLOR=1');
      expect(plain.exitCode).toBe(0);
      expect(plain.stdout).not.toContain(`${esc}[1m`);
    } finally {
      await sim5.stop();
      await deleteNamespace(ns5, { wait: true });
    }
  });

  it('reads targets from stdin, as pause -o name prints them', async () => {
    const ns4 = await createTestNamespace('backup-pipe');
    await createApps(client, ns4, [{ name: 'a1' }, { name: 'a2' }]);
    const sim4 = new SimOperator({ kubeconfig, namespaces: [ns4] });
    await sim4.start();
    try {
      const paused = await vw(['pause', '-n', ns4, 'a1', 'a2', '-o', 'name', '--timeout', '60s'], { kubeconfig });
      expect(paused.exitCode).toBe(0);
      const r = await vw(['backup', '-n', ns4, '-f', '-', '--ttl', '720h', '-o', 'json', '--timeout', '60s'], {
        kubeconfig,
        input: paused.stdout,
      });
      expect(r.exitCode).toBe(0);
      expect((JSON.parse(r.stdout).items as Record[]).map((i) => i.application).sort()).toEqual(['a1', 'a2']);
    } finally {
      await sim4.stop();
      await deleteNamespace(ns4, { wait: true });
    }
  });
});
