import { execa } from 'execa';
import { repoRoot } from '../helpers/plugins';

// `npm run sandbox` prints lines to paste: they must work as printed, on a machine whose `node`
// is older than the one the project brings (this one's is 20). Its Velero is the real one.

describe('the sandbox, as printed', () => {
  it('its export lines give a working kubectl vw, with the system node first on PATH', async () => {
    const sandbox = execa(
      process.execPath,
      ['--import', './test/support/ts-loader.mjs', 'test/support/sandbox-main.ts', '--apps', '4', '--namespaces', '1'],
      { cwd: repoRoot, reject: false, env: { VW_SIM_LOG: '0' } },
    );
    try {
      let printed = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the sandbox printed no export lines: ${printed}`)), 300_000);
        sandbox.stdout?.on('data', (c: Buffer) => {
          printed += c.toString();
          if (/Ctrl-C stops everything/.test(printed)) {
            clearTimeout(timer);
            resolve();
          }
        });
        void sandbox.then((r) => reject(new Error(`the sandbox ended: ${r.stderr}`)));
      });
      const exports = printed.split('\n').filter((l) => l.startsWith('export '));
      expect(exports.map((l) => l.split('=')[0])).toEqual(['export KUBECONFIG', 'export PATH']);
      // The lines as a user pastes them into a shell whose PATH starts with the system's node.
      const script = `export PATH=/usr/bin:/bin:$PATH\n${exports.join('\n')}\nnode --version >&2\nkubectl vw status`;
      const r = await execa('bash', ['-c', script], {
        reject: false,
        env: { PATH: '/usr/bin:/bin' },
        extendEnv: false,
      });
      expect(r.stderr).toMatch(/^v20\./m); // the system node, older than the plugins need
      expect(r.stdout).toMatch(/Uninstall procedure on context/);
      expect(r.exitCode).toBe(0);
      // And the fault switch it shows works with kubectl alone.
      const example = printed.split('\n').find((l) => l.includes('configmap sandbox-faults'));
      expect(example).toBeDefined();
      // Velero is the real one: a `velero server` process, and Backups with what only it writes.
      const ps = await execa('ps', ['-eo', 'pid,args'], { reject: false });
      const pid = /velero server \(real, pid (\d+)/.exec(printed)?.[1];
      expect(ps.stdout).toMatch(new RegExp(`^\\s*${pid} \\S*/velero server `, 'm'));
      const steps = `${exports.join('\n')}\nkubectl vw pause --all >&2 && kubectl vw backup --all --ttl 8760h >&2 && kubectl -n velero get backups.velero.io -o json`;
      const b = await execa('bash', ['-c', steps], { reject: false, env: { PATH: process.env.PATH } });
      expect(b.exitCode).toBe(0);
      const backups = JSON.parse(b.stdout).items as { status: Record<string, unknown> }[];
      expect(backups.length).toBeGreaterThan(0);
      for (const { status } of backups) {
        expect(status).toMatchObject({ phase: 'Completed', formatVersion: expect.any(String), version: 1 });
        expect(status.progress).toMatchObject({ itemsBackedUp: expect.any(Number) });
      }
    } finally {
      sandbox.kill('SIGTERM');
      await sandbox;
    }
  }, 400_000);
});
