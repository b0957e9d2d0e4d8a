import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { execa } from 'execa';
import { pauseAnnotation, resources } from '../../lib/operator/names';
import { adminKubeconfig, createTestNamespace, deleteNamespace } from '../support/kube-env';
import { adminClient, createApps, distBin, repoRoot } from '../helpers/plugins';

// `kubectl vw <step>` through the real kubectl binary: from the multi-call kubectl-vw alone, from
// the single-purpose binaries alone, and kubectl's plugin completion through kubectl_complete-vw.
describe('kubectl dispatch and completion', () => {
  let kubeconfig: string;
  let ns: string;
  const dirs: string[] = [];

  const pathWith = (...binaries: string[]) => {
    const dir = mkdtempSync(join(tmpdir(), 'vw-path-'));
    dirs.push(dir);
    for (const b of binaries) symlinkSync(join(distBin, b), join(dir, b));
    // kubectl, node and the shell's tools, and only the plugins given.
    return `${dir}:${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`;
  };
  const kubectl = (path: string, ...args: string[]) =>
    execa('kubectl', args, {
      // HOME in a temp dir: kubectl's caches must not land in the work tree.
      env: { PATH: path, KUBECONFIG: kubeconfig, NO_COLOR: '1', HOME: dirs[0] ?? tmpdir() },
      extendEnv: false,
      reject: false,
    });

  beforeAll(async () => {
    kubeconfig = adminKubeconfig();
    ns = await createTestNamespace('dispatch');
    await createApps(adminClient(kubeconfig), ns, [{ name: 'one' }, { name: 'two' }, { name: 'other' }]);
  });

  afterAll(async () => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await deleteNamespace(ns, { wait: true });
  });

  it('kubectl vw --help lists the steps in order', async () => {
    const r = await kubectl(pathWith('kubectl-vw'), 'vw', '--help');
    expect(r.exitCode).toBe(0);
    const order = ['kubectl vw pause', 'kubectl vw backup', 'kubectl vw decommission', 'kubectl vw purge'].map((s) =>
      r.stdout.indexOf(s),
    );
    expect(order.every((i, k) => i >= 0 && (k === 0 || i > (order[k - 1] ?? 0)))).toBe(true);
    expect((await kubectl(pathWith('kubectl-vw'), 'vw', 'version')).stdout).toMatch(/^kubectl-vw \d+\.\d+\.\d+/);
  });

  it('kubectl vw pause with only kubectl-vw on PATH', async () => {
    const r = await kubectl(pathWith('kubectl-vw'), 'vw', 'pause', '-n', ns, 'one', '--no-wait', '-o', 'name');
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim()).toBe('applicationinstance.apps.vworkspace.io/one');
  });

  it('kubectl vw pause with only the single-purpose kubectl-vw-pause on PATH', async () => {
    const r = await kubectl(pathWith('kubectl-vw-pause'), 'vw', 'pause', '-n', ns, 'two', '--no-wait', '-o', 'name');
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim()).toBe('applicationinstance.apps.vworkspace.io/two');
    const noDispatcher = await kubectl(pathWith('kubectl-vw-pause'), 'vw', 'status');
    expect(noDispatcher.exitCode).not.toBe(0);
    const ai = await adminClient(kubeconfig).get(resources.applicationInstances, 'two', ns);
    expect(ai.metadata.annotations?.[pauseAnnotation]).toBe('disabled');
  });

  it('with both on PATH, kubectl runs kubectl-vw-pause for kubectl vw pause, and kubectl-vw for the other steps', async () => {
    // Each plugin on PATH is a wrapper that notes its own name, then runs the real binary.
    const dir = mkdtempSync(join(tmpdir(), 'vw-path-'));
    dirs.push(dir);
    const log = join(dir, 'ran.log');
    for (const b of ['kubectl-vw', 'kubectl-vw-pause']) {
      writeFileSync(join(dir, b), `#!/bin/sh\necho "${b} $*" >> '${log}'\nexec '${join(distBin, b)}' "$@"\n`);
      chmodSync(join(dir, b), 0o755);
    }
    const path = `${dir}:${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`;
    const r = await kubectl(path, 'vw', 'pause', '-n', ns, 'other', '--no-wait', '-o', 'name');
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim()).toBe('applicationinstance.apps.vworkspace.io/other');
    const version = await kubectl(path, 'vw', 'version');
    expect(version.exitCode).toBe(0);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([
      `kubectl-vw-pause -n ${ns} other --no-wait -o name`,
      'kubectl-vw version',
    ]);
    const ai = await adminClient(kubeconfig).get(resources.applicationInstances, 'other', ns);
    expect(ai.metadata.annotations?.[pauseAnnotation]).toBe('disabled');
  });

  it('completes steps, flags, namespaces and names through kubectl_complete-vw', async () => {
    const path = pathWith('kubectl-vw', 'kubectl_complete-vw');
    const steps = await kubectl(path, '__complete', 'vw', 'p');
    expect(steps.stdout).toMatch(/^pause\t/m);
    expect(steps.stdout).toMatch(/^purge\t/m);
    const flags = await kubectl(path, '__complete', 'vw', 'pause', '--susp');
    expect(flags.stdout).toMatch(/^--suspend-helmreleases$/m);
    const namespaces = await kubectl(path, '__complete', 'vw', 'pause', '-n', ns.slice(0, 10));
    expect(namespaces.stdout).toContain(ns);
    const names = await kubectl(path, '__complete', 'vw', 'pause', '-n', ns, 'o');
    expect(names.stdout.split('\n').filter((l) => l && !l.startsWith(':') && !l.startsWith('Completion'))).toEqual([
      'one',
      'other',
    ]);
  });

  it('completes through kubectl_complete-vw-pause when kubectl-vw-pause is the binary kubectl runs', async () => {
    const path = pathWith('kubectl-vw-pause', 'kubectl_complete-vw-pause');
    const r = await kubectl(path, '__complete', 'vw', 'pause', '--conc');
    expect(r.stdout.split('\n')[0]).toBe('--concurrency');
    const names = await kubectl(path, '__complete', 'vw', 'pause', '-n', ns, 'tw');
    expect(names.stdout.split('\n')[0]).toBe('two');
  });

  it('completes every flag the parser knows, values from their choices, and contexts', async () => {
    const path = pathWith('kubectl-vw', 'kubectl_complete-vw');
    const candidates = async (...words: string[]) =>
      (await kubectl(path, '__complete', 'vw', ...words)).stdout
        .split('\n')
        .filter((l) => l && !l.startsWith(':') && !l.startsWith('Completion'));
    for (const step of [
      'pause',
      'resume',
      'backup',
      'decommission',
      'purge',
      'status',
      'uninstall',
      'plan',
      'history',
    ]) {
      const help = await kubectl(path, 'vw', step, '--help');
      const documented = [...help.stdout.matchAll(/^ +(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]);
      expect(documented.length).toBeGreaterThan(5);
      expect(await candidates(step, '-')).toEqual(expect.arrayContaining(documented));
    }
    expect(await candidates('pause', '--conc')).toEqual(['--concurrency']);
    expect(await candidates('plan', '')).toEqual(['show']);
    // A plan is a file: the shell completes file names (cobra's directive 0), not object names.
    expect((await kubectl(path, '__complete', 'vw', 'uninstall', '--plan', '')).stdout).toMatch(/^:0$/m);
    expect((await kubectl(path, '__complete', 'vw', 'plan', 'show', '')).stdout).toMatch(/^:0$/m);
    expect(await candidates('pause', '-o', '')).toEqual(['table', 'wide', 'json', 'yaml', 'name']);
    expect(await candidates('backup', '--dry-run=s')).toEqual(['--dry-run=server']);
    expect(await candidates('backup', '--ttl', '')).toEqual([]); // a duration, not an object name
    const contexts = new KubeConfig();
    contexts.loadFromFile(kubeconfig);
    expect(await candidates('purge', '--context', '')).toEqual(contexts.getContexts().map((c) => c.name));
  });

  it('--help, usage errors and flag completion load neither the client nor the kubeconfig machinery', async () => {
    // What a process loaded, by Node's own list of its built-in modules: the client's HTTPS and
    // TLS, and the kubeconfig's exec plugins (child_process), come only with a command that connects.
    const dir = mkdtempSync(join(tmpdir(), 'vw-loaded-'));
    dirs.push(dir);
    const probe = join(dir, 'probe.cjs');
    writeFileSync(
      probe,
      `process.on('exit', () => require('node:fs').writeFileSync(process.env.VW_PROBE_OUT, process.moduleLoadList.join('\\n')));\n`,
    );
    const loaded = async (...args: string[]) => {
      const out = join(dir, 'loaded.txt');
      await execa(process.execPath, ['--require', probe, join(repoRoot, 'dist', 'kubectl-vw.js'), ...args], {
        env: { KUBECONFIG: kubeconfig, VW_PROBE_OUT: out },
        reject: false,
      });
      return readFileSync(out, 'utf8').split('\n');
    };
    const client = ['NativeModule https', 'NativeModule tls', 'NativeModule child_process'];
    for (const args of [['pause', '--help'], ['--help'], ['pause', '--no-such-flag'], ['__complete', 'pause', '--c']]) {
      const modules = await loaded(...args);
      expect({ args, loaded: client.filter((m) => modules.includes(m)) }).toEqual({ args, loaded: [] });
    }
    // The probe sees them when a command does connect.
    expect(await loaded('status', '-o', 'json')).toEqual(expect.arrayContaining(client.slice(0, 2)));
  });
});
