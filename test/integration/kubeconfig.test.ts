import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { adminKubeconfig, createTestNamespace, deleteNamespace, kubectlOk } from '../support/kube-env';
import { adminClient, createApps, vw } from '../helpers/plugins';

interface Kubeconfig {
  clusters: { name: string; cluster: { server: string; 'certificate-authority-data': string } }[];
  users: { name: string; user: { 'client-certificate-data': string; 'client-key-data': string } }[];
}

// kubectl's ways of finding a cluster: KUBECONFIG with several files, an exec credential plugin,
// and one clear line (no stack trace, a documented exit code) for each way of getting it wrong.
describe('kubeconfig handling', () => {
  let dir: string;
  let admin: Kubeconfig;
  let ns: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vw-kubeconfig-'));
    admin = yaml.load(await readFile(adminKubeconfig(), 'utf8')) as Kubeconfig;
    ns = await createTestNamespace('kubeconfig');
    await createApps(adminClient(adminKubeconfig()), ns, [{ name: 'app' }]);
  });

  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await deleteNamespace(ns, { wait: true });
  });

  /** A kubeconfig file in the test's directory: apiVersion and kind, plus what the test varies. */
  const writeKubeconfig = (file: string, config: Record<string, unknown>) => {
    const path = join(dir, file);
    writeFileSync(path, yaml.dump({ apiVersion: 'v1', kind: 'Config', ...config }));
    return path;
  };

  const noStack = (stderr: string) => expect(stderr).not.toMatch(/\n\s+at /);

  it('merges several files in KUBECONFIG and authenticates through an exec credential plugin', async () => {
    const cluster = admin.clusters[0];
    const user = admin.users[0];
    const pem = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
    const credential = {
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: {
        clientCertificateData: pem(user?.user['client-certificate-data'] ?? ''),
        clientKeyData: pem(user?.user['client-key-data'] ?? ''),
      },
    };
    const plugin = join(dir, 'credential-plugin.sh');
    writeFileSync(join(dir, 'credential.json'), JSON.stringify(credential));
    writeFileSync(plugin, `#!/bin/sh\ncat '${join(dir, 'credential.json')}'\n`);
    chmodSync(plugin, 0o755);
    const clusters = writeKubeconfig('clusters.yaml', {
      clusters: [cluster],
      contexts: [{ name: 'split', context: { cluster: cluster?.name, user: 'exec-user', namespace: ns } }],
      'current-context': 'split',
    });
    const users = writeKubeconfig('users.yaml', {
      users: [
        {
          name: 'exec-user',
          user: {
            exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never' },
          },
        },
      ],
    });
    const r = await vw(['pause', 'app', '--no-wait', '-o', 'json'], { kubeconfig: `${clusters}:${users}` });
    expect(r.stderr).toMatch(/1 changed/);
    expect(r.exitCode).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.context).toBe('split');
    expect(doc.items[0]).toMatchObject({ namespace: ns, name: 'app', result: 'changed' });
  });

  it('authenticates with a bearer token, inline or from token-file; a rejected token is one line, exit 3', async () => {
    const sa = 'vw-token';
    await createApps(adminClient(adminKubeconfig()), ns, [{ name: 'tok' }]);
    await kubectlOk(['create', 'serviceaccount', sa, '-n', ns]);
    await kubectlOk([
      'create',
      'clusterrolebinding',
      `${ns}-${sa}`,
      '--clusterrole=cluster-admin',
      `--serviceaccount=${ns}:${sa}`,
    ]);
    try {
      const token = (await kubectlOk(['create', 'token', sa, '-n', ns, '--duration=10m'])).trim();
      const tokenFile = join(dir, 'token');
      writeFileSync(tokenFile, token);
      const withUser = (name: string, user: Record<string, string>) =>
        writeKubeconfig(`${name}.yaml`, {
          clusters: admin.clusters,
          users: [{ name, user }],
          contexts: [{ name, context: { cluster: admin.clusters[0]?.name, user: name, namespace: ns } }],
          'current-context': name,
        });
      const inline = await vw(['pause', 'tok', '--no-wait', '-o', 'name'], {
        kubeconfig: withUser('inline-token', { token }),
      });
      expect(inline.stderr).toMatch(/1 changed/);
      expect(inline.exitCode).toBe(0);
      const fromFile = await vw(['resume', 'tok', '--no-wait', '-o', 'name'], {
        kubeconfig: withUser('file-token', { 'token-file': tokenFile }),
      });
      expect(fromFile.stderr).toMatch(/1 changed/);
      expect(fromFile.exitCode).toBe(0);
      const rejected = await vw(['status'], { kubeconfig: withUser('bad-token', { token: 'not-a-token' }) });
      expect(rejected.exitCode).toBe(3);
      expect(rejected.stderr).toMatch(/^error: the API server rejected the credentials/);
      noStack(rejected.stderr);
    } finally {
      await kubectlOk(['delete', 'clusterrolebinding', `${ns}-${sa}`]);
    }
  });

  it('a malformed kubeconfig: one line, exit 2', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'clusters: [unclosed\n  - {{{');
    const r = await vw(['status', '--kubeconfig', bad], { kubeconfig: adminKubeconfig() });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^error: cannot load kubeconfig/);
    noStack(r.stderr);
    const missing = await vw(['status', '--kubeconfig', join(dir, 'nope.yaml')], { kubeconfig: adminKubeconfig() });
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/does not exist/);
  });

  it('an unreachable API server: one line naming it, exit 3', async () => {
    const cfg = writeKubeconfig('unreachable.yaml', {
      clusters: [
        {
          name: 'gone',
          cluster: {
            server: 'https://127.0.0.1:1',
            'certificate-authority-data': admin.clusters[0]?.cluster['certificate-authority-data'],
          },
        },
      ],
      users: admin.users,
      contexts: [{ name: 'gone', context: { cluster: 'gone', user: admin.users[0]?.name } }],
      'current-context': 'gone',
    });
    const r = await vw(['pause', '--all', '--request-timeout', '2s'], { kubeconfig: cfg });
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/cannot reach the API server at https:\/\/127\.0\.0\.1:1/);
    noStack(r.stderr);
  });

  it('--cluster and --user override the context; an unknown one is refused', async () => {
    const cfg = writeKubeconfig('overrides.yaml', {
      clusters: [...admin.clusters, { name: 'gone', cluster: { server: 'https://127.0.0.1:1' } }],
      users: [...admin.users, { name: 'nobody', user: {} }],
      contexts: [{ name: 'wrong', context: { cluster: 'gone', user: 'nobody' } }],
      'current-context': 'wrong',
    });
    const ok = await vw(
      ['status', '-o', 'json', '--cluster', admin.clusters[0]?.name ?? '', '--user', admin.users[0]?.name ?? ''],
      { kubeconfig: cfg },
    );
    expect(ok.exitCode).toBe(0);
    const unknown = await vw(['status', '--user', 'nope'], { kubeconfig: cfg });
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/user "nope" not found in kubeconfig/);
  });

  it('bad flag values: exit 2 before connecting', async () => {
    const timeout = await vw(['pause', '--all', '--request-timeout', 'soon'], { kubeconfig: adminKubeconfig() });
    expect(timeout.exitCode).toBe(2);
    expect(timeout.stderr).toMatch(/invalid --request-timeout "soon"/);
    const output = await vw(['pause', '--all', '-o', 'xml'], { kubeconfig: adminKubeconfig() });
    expect(output.exitCode).toBe(2);
    const unknown = await vw(['pause', '--all', '--frobnicate'], { kubeconfig: adminKubeconfig() });
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown argument: frobnicate/);
  });
});
