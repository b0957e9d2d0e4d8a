import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import type { KubeClient } from '../../lib/kube/client';
import { pauseAnnotation } from '../../lib/operator/names';
import { adminKubeconfig, createTestNamespace, deleteNamespace, kubectlOk } from '../support/kube-env';
import { adminClient, createApps, vw } from '../helpers/plugins';

// Every plugin takes all of kubectl's connection flags and the kubeconfig's proxy-url and
// tls-server-name; `-n ""` means what it means to kubectl.

interface Kubeconfig {
  clusters: { name: string; cluster: Record<string, unknown> }[];
  users: { name: string; user: Record<string, unknown> }[];
  contexts: { name: string; context: Record<string, unknown> }[];
  'current-context': string;
}

describe("kubectl's connection flags", () => {
  let kubeconfig: string;
  let client: KubeClient;
  let nsA: string;
  let nsB: string;
  let dir: string;
  let admin: Kubeconfig;
  const files: Record<string, string> = {};

  beforeAll(async () => {
    kubeconfig = adminKubeconfig();
    client = adminClient(kubeconfig);
    nsA = await createTestNamespace('conn-a');
    nsB = await createTestNamespace('conn-b');
    await createApps(client, nsA, [{ name: 'a1', annotations: { [pauseAnnotation]: 'disabled' } }]);
    await createApps(client, nsB, [{ name: 'b1', annotations: { [pauseAnnotation]: 'disabled' } }]);
    dir = mkdtempSync(join(tmpdir(), 'vw-conn-'));
    admin = yaml.load(readFileSync(kubeconfig, 'utf8')) as Kubeconfig;
    const decode = (name: string, data: unknown) => {
      files[name] = join(dir, name);
      writeFileSync(files[name], Buffer.from(String(data), 'base64'));
    };
    decode('ca.crt', admin.clusters[0]?.cluster['certificate-authority-data']);
    decode('admin.crt', admin.users[0]?.user['client-certificate-data']);
    decode('admin.key', admin.users[0]?.user['client-key-data']);
  });

  afterAll(async () => {
    await deleteNamespace(nsA, { wait: true });
    await deleteNamespace(nsB, { wait: true });
  });

  const writeConfig = (name: string, mutate: (k: Kubeconfig) => void) => {
    const k = structuredClone(admin);
    mutate(k);
    const path = join(dir, `${name}.yaml`);
    writeFileSync(path, yaml.dump(k));
    return path;
  };
  const server = () => String(admin.clusters[0]?.cluster.server);
  const names = (stdout: string) =>
    (JSON.parse(stdout).items as { namespace: string; name: string }[]).map((i) => `${i.namespace}/${i.name}`);

  it('-n "" (an empty shell variable) is the context\'s namespace, never every namespace', async () => {
    const inA = writeConfig('ctx-ns', (k) => {
      if (k.contexts[0]) k.contexts[0].context.namespace = nsA;
    });
    const r = await vw(['resume', '-n', '', '--all', '--force-all', '--dry-run=client', '-o', 'json'], {
      kubeconfig: inA,
    });
    expect(r.exitCode).toBe(0);
    expect(names(r.stdout).filter((n) => n.startsWith('conn-'))).toEqual([`${nsA}/a1`]);
  });

  it.each([['Bad_Namespace'], [`${'x'.repeat(64)}`], ['a,b'], ['*']])('-n %p is refused (exit 2)', async (ns) => {
    const r = await vw(['resume', '-n', ns, '--all', '--dry-run=client'], { kubeconfig });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/invalid namespace/);
  });

  it('--server, --certificate-authority, --client-certificate and --client-key, with no kubeconfig at all', async () => {
    const r = await vw(
      [
        'status',
        '-o',
        'json',
        '--server',
        server(),
        '--certificate-authority',
        files['ca.crt'] as string,
        '--client-certificate',
        files['admin.crt'] as string,
        '--client-key',
        files['admin.key'] as string,
      ],
      { kubeconfig: '/nonexistent/kubeconfig' },
    );
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
  });

  it('--token and --insecure-skip-tls-verify', async () => {
    const sa = 'vw-conn-token';
    await kubectlOk(['create', 'serviceaccount', sa, '-n', nsA]);
    await kubectlOk([
      'create',
      'clusterrolebinding',
      `${nsA}-${sa}`,
      '--clusterrole=cluster-admin',
      `--serviceaccount=${nsA}:${sa}`,
    ]);
    try {
      const token = (await kubectlOk(['create', 'token', sa, '-n', nsA, '--duration=10m'])).trim();
      const r = await vw(['status', '--server', server(), '--token', token, '--insecure-skip-tls-verify'], {
        kubeconfig: '/nonexistent/kubeconfig',
      });
      expect(r.exitCode).toBe(0);
      const bad = await vw(['status', '--server', server(), '--token', 'nope', '--insecure-skip-tls-verify'], {
        kubeconfig: '/nonexistent/kubeconfig',
      });
      expect(bad.exitCode).toBe(3);
      expect(bad.stderr).toMatch(/rejected the credentials/);
    } finally {
      await kubectlOk(['delete', 'clusterrolebinding', `${nsA}-${sa}`]);
    }
  });

  it("--tls-server-name (and the kubeconfig's tls-server-name) name the certificate to expect", async () => {
    const byIp = server().replace('localhost', '127.0.0.1');
    const ok = await vw(['status', '--server', byIp, '--tls-server-name', 'kubernetes'], { kubeconfig });
    expect(ok.exitCode).toBe(0);
    const wrong = await vw(['status', '--server', byIp, '--tls-server-name', 'not-this-server.example'], {
      kubeconfig,
    });
    expect(wrong.exitCode).toBe(3);
    expect(wrong.stderr).toMatch(/not-this-server\.example/);
    const inConfig = writeConfig('tls-name', (k) => {
      if (k.clusters[0]) k.clusters[0].cluster['tls-server-name'] = 'not-this-server.example';
    });
    const fromConfig = await vw(['status'], { kubeconfig: inConfig });
    expect(fromConfig.exitCode).toBe(3);
  });

  it('--as impersonates, and the preflight access review sees who is impersonated', async () => {
    const asRestricted = await vw(['pause', '-n', nsA, 'a1', '--no-wait', '--as', 'vw-restricted'], { kubeconfig });
    expect(asRestricted.exitCode).toBe(3);
    expect(asRestricted.stderr).toMatch(/vw-restricted may not patch applicationinstances/);
    const asAdminGroup = await vw(
      [
        'resume',
        '-n',
        nsA,
        'a1',
        '--force-all',
        '--dry-run=server',
        '--as',
        'someone',
        '--as-group',
        'system:masters',
        '--as-uid',
        '42',
      ],
      { kubeconfig },
    );
    expect(asAdminGroup.stderr).not.toMatch(/may not/);
    expect(asAdminGroup.exitCode).toBe(0);
  });

  it("the kubeconfig's proxy-url carries every request", async () => {
    let tunnels = 0;
    const proxy = http.createServer();
    proxy.on('connect', (req, socket, head) => {
      tunnels++;
      const [host, port] = String(req.url).split(':');
      const upstream = net.connect(Number(port), host, () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const viaProxy = writeConfig('proxied', (k) => {
        if (k.clusters[0])
          k.clusters[0].cluster['proxy-url'] = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      });
      const r = await vw(['pause', '-n', nsB, 'b1', '--dry-run=server', '-o', 'json'], { kubeconfig: viaProxy });
      expect(r.exitCode).toBe(0);
      expect(tunnels).toBeGreaterThan(0);
    } finally {
      proxy.closeAllConnections();
      await new Promise((r) => proxy.close(r));
    }
  });
});
