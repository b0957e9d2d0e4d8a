import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import yaml from 'js-yaml';
import { helmReleaseName, operatorNamespace } from '../../lib/operator/names';
import { installOperatorChart } from '../support/chart';
import { kubectl, kubectlOk, toolsBinDir } from '../support/kube-env';
import { seedSandbox, startWorld, type World } from '../support/sandbox';
import { startConnectProxy } from '../helpers/connect-proxy';
import { type Observer, observe } from '../helpers/observe';
import { distBin, vw } from '../helpers/plugins';

// One target for the whole run: what was planned and confirmed is the cluster every request goes
// to, helm's included, whatever the user's shell says and however the kubeconfig changes mid-run.

interface Kubeconfig {
  clusters: { name: string; cluster: Record<string, unknown> }[];
  contexts: { name: string; context: { cluster: string; user: string; namespace?: string } }[];
  users: { name: string; user: Record<string, unknown> }[];
  'current-context': string;
  [k: string]: unknown;
}

describe('one target for the whole run', () => {
  let world: World;
  let kubeconfig: string;
  let seen: Observer;
  const dir = mkdtempSync(join(tmpdir(), 'vw-one-target-'));
  const helm = () => join(toolsBinDir(), 'helm');
  const admin = () => yaml.load(readFileSync(kubeconfig, 'utf8')) as Kubeconfig;
  const writeKubeconfig = (name: string, config: Kubeconfig) => {
    const path = join(dir, name);
    writeFileSync(path, yaml.dump(config), { mode: 0o600 });
    return path;
  };
  const releaseThere = async () => (await seen.helmReleaseSecrets(operatorNamespace, helmReleaseName)).length > 0;
  const releaseInConfigMaps = async () =>
    (
      await kubectlOk(
        ['get', 'configmaps', '-n', operatorNamespace, '-l', `owner=helm,name=${helmReleaseName}`, '-o', 'name'],
        { kubeconfig },
      )
    ).trim() !== '';
  /** The release installed again, and step 3 done (by hand if a test before did not get there). */
  const reinstall = async (driver?: 'secret' | 'configmap') => {
    for (const c of await seen.list('clusters', operatorNamespace)) {
      const args = ['clusters.ops.vworkspace.io', c.metadata.name, '-n', operatorNamespace];
      await kubectlOk(['delete', ...args, '--wait=false'], { kubeconfig });
      await kubectl(['patch', ...args, '--type=merge', '-p', '{"metadata":{"finalizers":null}}'], { kubeconfig });
    }
    await installOperatorChart(kubeconfig, { helmBin: helm(), odooUrl: world.odoo.url, driver });
  };

  beforeAll(async () => {
    world = await startWorld({ sim: { latency: 'fast' } });
    kubeconfig = world.kubeconfig;
    seen = observe(kubeconfig);
    await seedSandbox(kubeconfig, { apps: 3, namespaces: 1, helmBin: helm(), odooUrl: world.odoo.url });
  }, 180_000);

  afterAll(async () => {
    await world?.stop();
  });

  it('a context switched during the backup wait changes nothing: every step goes to the cluster it started on', async () => {
    // Two contexts; the current one is the real cluster, the other one a server that is not there.
    const config = admin();
    const real = config.contexts[0] as Kubeconfig['contexts'][number];
    config.clusters.push({ name: 'elsewhere', cluster: { server: 'https://127.0.0.1:1' } });
    config.contexts.push({ name: 'elsewhere', context: { cluster: 'elsewhere', user: real.context.user } });
    const path = writeKubeconfig('two-contexts', config);
    const run = execa(join(distBin, 'kubectl-vw'), ['uninstall', '--ttl', '720h', '--yes', '--helm', helm()], {
      env: { KUBECONFIG: path, NO_COLOR: '1' },
      reject: false,
      stdin: 'ignore',
    });
    let switched = false;
    run.stderr?.on('data', (c: Buffer) => {
      if (switched || !c.toString().includes('== Step 2')) return;
      switched = true;
      // As kubectx or a cloud CLI would, while the run waits for its backups.
      void execa('kubectl', ['--kubeconfig', path, 'config', 'use-context', 'elsewhere']);
    });
    const r = await run;
    expect(switched).toBe(true);
    expect(String(r.stderr)).toMatch(/== Step 3/);
    expect(r.exitCode).toBe(0);
    expect((await seen.list('clusters', operatorNamespace)).length).toBe(0);
    expect(await releaseThere()).toBe(false);
    expect(yaml.load(readFileSync(path, 'utf8'))).toMatchObject({ 'current-context': 'elsewhere' });
  }, 600_000);

  it("helm is given an environment of kubectl vw's own: HELM_KUBEAPISERVER and friends in the shell change nothing", async () => {
    await reinstall();
    const r = await vw(['purge', '--yes', '--helm', helm()], {
      kubeconfig,
      env: {
        HELM_KUBEAPISERVER: 'https://127.0.0.1:1',
        HELM_KUBETOKEN: 'a-token-for-another-cluster',
        HELM_KUBEASUSER: 'someone-else',
        HELM_KUBEINSECURE_SKIP_TLS_VERIFY: 'true',
        HELM_NAMESPACE: 'elsewhere',
      },
    });
    expect(r.stderr).not.toMatch(/127\.0\.0\.1:1/);
    expect(r.exitCode).toBe(0);
    expect(await releaseThere()).toBe(false);
    expect(await seen.deployments(operatorNamespace)).toEqual([]);
  }, 300_000);

  it('HELM_DRIVER=configmap in the shell: helm still looks where the plan read the release, and the rows say what is gone', async () => {
    await reinstall();
    const r = await vw(['purge', '--yes', '--helm', helm(), '-o', 'json'], {
      kubeconfig,
      env: { HELM_DRIVER: 'configmap' },
    });
    expect(r.exitCode).toBe(0);
    expect(await releaseThere()).toBe(false);
    const deployments = (JSON.parse(r.stdout).items as { kind: string; result: string; message?: string }[]).filter(
      (i) => i.kind === 'Deployment',
    );
    expect(deployments.length).toBeGreaterThan(0);
    for (const d of deployments) expect(d).toMatchObject({ result: 'changed', message: 'deleted by helm uninstall' });
    expect(await seen.deployments(operatorNamespace)).toEqual([]);
  }, 300_000);

  it('a release stored in ConfigMaps (HELM_DRIVER=configmap at install) is found there and uninstalled there', async () => {
    await reinstall('configmap');
    expect(await releaseInConfigMaps()).toBe(true);
    const r = await vw(['purge', '--yes', '--helm', helm()], { kubeconfig });
    expect(r.stderr).toMatch(/HELM_DRIVER=configmap/);
    expect(r.exitCode).toBe(0);
    expect(await releaseInConfigMaps()).toBe(false);
    expect(await seen.deployments(operatorNamespace)).toEqual([]);
  }, 300_000);

  it('one proxy rule for the client and helm: HTTPS_PROXY (and NO_PROXY) as client-go reads them', async () => {
    await reinstall();
    const config = admin();
    const cluster = config.clusters[0] as Kubeconfig['clusters'][number];
    const port = new URL(String(cluster.cluster.server)).port;
    // A name only the proxy can resolve: a request that does not go through it cannot connect.
    cluster.cluster.server = `https://apiserver.vw.test:${port}`;
    cluster.cluster['tls-server-name'] = 'localhost';
    const path = writeKubeconfig('behind-a-proxy', config);
    const proxy = await startConnectProxy({ 'apiserver.vw.test': '127.0.0.1' });
    try {
      const direct = await vw(['purge', '--yes', '--helm', helm()], {
        kubeconfig: path,
        env: { HTTPS_PROXY: proxy.url, NO_PROXY: '.vw.test' },
      });
      expect(direct.exitCode).toBe(3); // NO_PROXY says go direct, and the name resolves nowhere
      expect(proxy.tunnels).toEqual([]);
      expect(await releaseThere()).toBe(true);
      const r = await vw(['purge', '--yes', '--helm', helm()], { kubeconfig: path, env: { HTTPS_PROXY: proxy.url } });
      expect(r.exitCode).toBe(0);
      // helm, too, reached the API server through the proxy: nothing else could have removed the release.
      expect(await releaseThere()).toBe(false);
      expect(new Set(proxy.tunnels)).toEqual(new Set([`apiserver.vw.test:${port}`]));
    } finally {
      await proxy.stop();
    }
  }, 300_000);
});
