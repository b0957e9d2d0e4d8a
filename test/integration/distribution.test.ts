import {
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { pauseAnnotation, resources } from '../../lib/operator/names';
import { adminKubeconfig, createTestNamespace, deleteNamespace, toolsBinDir } from '../support/kube-env';
import { machOSignature, peFacts } from '../support/executables';
import { adminClient, createApps, repoRoot } from '../helpers/plugins';

// The release as users get it: standalone executables without Node, krew manifests that krew's
// validator accepts, and a krew index that the real krew installs, upgrades and uninstalls from.
describe('distribution', () => {
  let work: string;
  let server: http.Server;
  let baseUrl: string;
  let kubeconfig: string;
  let ns: string;

  const release = (version: string) =>
    execa(
      process.execPath,
      [
        'scripts/release.mjs',
        '--version',
        version,
        '--platforms',
        'linux/amd64',
        '--base-url',
        baseUrl,
        '--out',
        join(work, 'release'),
      ],
      {
        cwd: repoRoot,
        all: true,
      },
    );

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vw-dist-'));
    mkdirSync(join(work, 'release'), { recursive: true });
    server = http.createServer((req, res) => {
      const file = join(work, 'release', decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
      if (!existsSync(file)) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200);
      createReadStream(file).pipe(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    kubeconfig = adminKubeconfig();
    ns = await createTestNamespace('dist');
    await createApps(adminClient(kubeconfig), ns, [{ name: 'app-1' }, { name: 'app-2' }]);
    mkdirSync(join(work, 'shims'), { recursive: true });
    symlinkSync(join(toolsBinDir(), 'krew'), join(work, 'shims', 'kubectl-krew'));
    const r = await release('0.1.0');
    if (r.exitCode !== 0) throw new Error(`release failed: ${r.all}`);
  }, 600_000);

  afterAll(async () => {
    server?.close();
    await deleteNamespace(ns, { wait: true });
    rmSync(work, { recursive: true, force: true });
  });

  const exe = () => join(repoRoot, 'dist', 'package', 'linux-amd64', 'kubectl-vw');
  /** The standalone executable for another platform, in dist/package/<os>-<arch>/. */
  const packageOnly = async (platform: string) => {
    const r = await execa(
      process.execPath,
      ['scripts/release.mjs', '--version', '0.1.0', '--platforms', platform, '--package-only'],
      { cwd: repoRoot, reject: false, all: true, env: { PATH: `${dirname(process.execPath)}:${process.env.PATH}` } },
    );
    if (r.exitCode !== 0) throw new Error(`release failed: ${r.all}`);
  };

  it('the linux/amd64 executable runs with no Node and an empty environment', async () => {
    const help = await execa('env', ['-i', exe(), 'pause', '--help'], { reject: false });
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/^kubectl vw pause/);
    const version = await execa('env', ['-i', exe(), 'version'], { reject: false });
    expect(version.stdout).toMatch(/kubectl-vw 0\.1\.0/);
    const real = await execa(
      'env',
      ['-i', exe(), 'pause', '--kubeconfig', kubeconfig, '-n', ns, 'app-1', '--no-wait', '-o', 'name'],
      { reject: false },
    );
    expect(real.stderr).toMatch(/1 changed/);
    expect(real.exitCode).toBe(0);
    expect(real.stdout.trim()).toBe('applicationinstance.apps.vworkspace.io/app-1');
  });

  it('the darwin/amd64 executable carries an ad-hoc signature that every page matches', async () => {
    await packageOnly('darwin/amd64');
    const exe = readFileSync(join(repoRoot, 'dist', 'package', 'darwin-amd64', 'kubectl-vw'));
    const signature = machOSignature(exe);
    expect(signature.segments).toContain('NODE_SEA'); // the application, injected by postject
    expect(signature).toMatchObject({ signed: true, adhoc: true, identifier: 'kubectl-vw', mismatchedPages: 0 });
    // The check can fail: one changed byte in the code is one page that no longer matches.
    exe[64 * 1024] = (exe[64 * 1024] ?? 0) ^ 0xff;
    expect(machOSignature(exe).mismatchedPages).toBe(1);
  }, 300_000);

  it('the windows/amd64 executable drops the Authenticode signature the injection would break', async () => {
    await packageOnly('windows/amd64');
    const exe = readFileSync(join(repoRoot, 'dist', 'package', 'windows-amd64', 'kubectl-vw.exe'));
    const facts = peFacts(exe);
    expect(facts.pe32plus).toBe(true);
    expect(facts.certificateTable).toBeUndefined();
    expect(facts.hasResourceNamed('NODE_SEA_BLOB')).toBe(true);
    expect(exe.includes('NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2:1')).toBe(true); // the fuse is flipped
  }, 300_000);

  it('a bundle run by a Node older than 22 refuses in one line, exit 3, before loading anything', async () => {
    // A preload makes the running Node (22, from npm) report itself as Node 20, as /usr/bin/node here is.
    const preload = join(work, 'node20.cjs');
    writeFileSync(
      preload,
      "Object.defineProperty(process, 'versions', { value: { ...process.versions, node: '20.20.2' } });\n",
    );
    const old = await execa(process.execPath, ['-r', preload, join(repoRoot, 'dist', 'kubectl-vw.js'), 'status'], {
      reject: false,
    });
    expect(old.exitCode).toBe(3);
    expect(old.stderr.trim()).toBe(
      'error: kubectl vw needs Node.js 22 or newer, this is 20.20.2: install the standalone build (kubectl krew install vw), or put Node 22 first on PATH',
    );
    expect(old.stdout).toBe('');
  });

  it('writes archives with LICENSE, sha256 sums and manifests that validate-krew-manifest accepts', async () => {
    const dir = join(work, 'release');
    const sums = await execa('sha256sum', ['-c', 'SHA256SUMS'], { cwd: dir, reject: false });
    expect(sums.exitCode).toBe(0);
    const listing = await execa('tar', ['-tzf', join(dir, 'kubectl-vw_v0.1.0_linux_amd64.tar.gz')]);
    expect(listing.stdout.split('\n').sort()).toEqual([
      'LICENSE',
      'kubectl-vw',
      'kubectl_complete-vw',
      'kubectl_complete-vw_backup',
      'kubectl_complete-vw_decommission',
      'kubectl_complete-vw_pause',
      'kubectl_complete-vw_purge',
      'kubectl_complete-vw_resume',
    ]);
    for (const name of ['vw', 'vw-pause', 'vw-resume', 'vw-backup', 'vw-decommission', 'vw-purge']) {
      // Without -skip-install the validator installs the plugin from its uri (our loopback server).
      const v = await execa(
        join(toolsBinDir(), 'validate-krew-manifest'),
        ['-manifest', join(dir, 'krew-manifests', `${name}.yaml`)],
        {
          reject: false,
          all: true,
          env: {
            KREW_ROOT: join(work, 'validate-krew'),
            PATH: `${join(work, 'shims')}:${process.env.PATH}`,
            HOME: work,
          },
        },
      );
      expect({ name, exitCode: v.exitCode, out: v.exitCode ? v.all : '' }).toEqual({ name, exitCode: 0, out: '' });
    }
  });

  it('kubectl krew installs from the index, then kubectl vw works; upgrade and uninstall too', async () => {
    const krewRoot = join(work, 'krew');
    const shims = join(work, 'shims');
    // Only krew's bin and the system on PATH: no dist/bin, no node.
    const env = {
      KREW_ROOT: krewRoot,
      KUBECONFIG: kubeconfig,
      PATH: `${join(krewRoot, 'bin')}:${shims}:/usr/local/bin:/usr/bin:/bin`,
      HOME: work,
    };
    const kubectl = (...args: string[]) => execa('kubectl', args, { env, extendEnv: false, reject: false, all: true });

    expect((await kubectl('krew', 'index', 'add', 'vw', join(work, 'release', 'index'))).exitCode).toBe(0);
    const install = await kubectl('krew', 'install', 'vw/vw', 'vw/vw-pause');
    expect({ code: install.exitCode, out: install.exitCode ? install.all : '' }).toEqual({ code: 0, out: '' });

    // Completion, set up as the caveats krew printed say (krew itself links only the plugins).
    const caveats = [...install.all.matchAll(/^[\s|]*(cp "\$\{KREW_ROOT:-\$HOME\/\.krew\}\/store\/.*)$/gm)].map(
      (m) => m[1],
    );
    expect(caveats).toHaveLength(2);
    for (const cp of caveats)
      expect((await execa('sh', ['-c', cp ?? 'false'], { env, reject: false })).exitCode).toBe(0);
    const complete = async (...words: string[]) => (await kubectl('__complete', ...words)).stdout.split('\n')[0];
    expect(await complete('vw', 'backup', '--retry')).toBe('--retry-failed');
    expect(await complete('vw-pause', '--conc')).toBe('--concurrency');

    const paused = await kubectl('vw', 'pause', '--all', '-n', ns, '--no-wait');
    expect(paused.exitCode).toBe(0);
    const single = await kubectl('vw-pause', '-n', ns, 'app-1', 'app-2', '--no-wait', '-o', 'json');
    expect(single.exitCode).toBe(0);
    const client = adminClient(kubeconfig);
    for (const name of ['app-1', 'app-2']) {
      expect((await client.get(resources.applicationInstances, name, ns)).metadata.annotations?.[pauseAnnotation]).toBe(
        'disabled',
      );
    }

    const next = await release('0.1.1');
    expect(next.exitCode).toBe(0);
    expect((await kubectl('krew', 'update')).exitCode).toBe(0);
    const upgrade = await kubectl('krew', 'upgrade', 'vw');
    expect({ code: upgrade.exitCode, out: upgrade.exitCode ? upgrade.all : '' }).toEqual({ code: 0, out: '' });
    expect((await kubectl('vw', 'version')).stdout).toMatch(/kubectl-vw 0\.1\.1/);

    expect((await kubectl('krew', 'uninstall', 'vw', 'vw-pause')).exitCode).toBe(0);
    const gone = await kubectl('vw', 'version');
    expect(gone.exitCode).not.toBe(0);
  });
});
