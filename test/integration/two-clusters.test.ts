import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import yaml from 'js-yaml';
import { helmReleaseName, operatorNamespace } from '../../lib/operator/names';
import { type ControlPlane, startControlPlane } from '../support/control-plane';
import { toolsBinDir } from '../support/kube-env';
import { installOperatorChart } from '../support/sandbox';
import { vw } from '../helpers/plugins';

// One kubeconfig, two clusters: helm must act on exactly the cluster that was planned and
// confirmed, whatever mix of --context, --cluster and --user chose it.

interface Kubeconfig {
  clusters: { name: string; cluster: Record<string, unknown> }[];
  users: { name: string; user: Record<string, unknown> }[];
  contexts: { name: string; context: Record<string, unknown> }[];
}

describe('two clusters in one kubeconfig', () => {
  let one: ControlPlane;
  let other: ControlPlane;
  let merged: string;
  const helm = () => join(toolsBinDir(), 'helm');
  const releases = async (kubeconfig: string) =>
    (
      await execa(helm(), ['list', '-n', operatorNamespace, '-q', '--kubeconfig', kubeconfig], {
        env: { HELM_CACHE_HOME: join(tmpdir(), 'vw-2c-helm') },
      })
    ).stdout.trim();

  beforeAll(async () => {
    // Two control planes of their own, so no other suite's objects are in the way.
    [one, other] = await Promise.all([startControlPlane({}), startControlPlane({})]);
    const home = mkdtempSync(join(tmpdir(), 'vw-2c-'));
    for (const kubeconfig of [one.adminKubeconfig, other.adminKubeconfig])
      await installOperatorChart(kubeconfig, { helmBin: helm(), helmHome: join(home, 'helm') });
    // A: the test cluster; B: the other one, under names of their own.
    const a = yaml.load(readFileSync(one.adminKubeconfig, 'utf8')) as Kubeconfig;
    const b = yaml.load(readFileSync(other.adminKubeconfig, 'utf8')) as Kubeconfig;
    const rename = (k: Kubeconfig, s: string) => ({
      clusters: k.clusters.map((c) => ({ ...c, name: `cluster-${s}` })),
      users: k.users.map((u) => ({ ...u, name: `user-${s}` })),
      contexts: [{ name: `ctx-${s}`, context: { cluster: `cluster-${s}`, user: `user-${s}` } }],
    });
    const [ra, rb] = [rename(a, 'a'), rename(b, 'b')];
    merged = join(home, 'merged.yaml');
    writeFileSync(
      merged,
      yaml.dump({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [...ra.clusters, ...rb.clusters],
        users: [...ra.users, ...rb.users],
        contexts: [...ra.contexts, ...rb.contexts],
        'current-context': 'ctx-a',
      }),
    );
  }, 240_000);

  afterAll(async () => {
    await Promise.all([one?.stop(), other?.stop()]);
  });

  it('purge --context A --cluster B --user B uninstalls the release of B, and leaves A alone', async () => {
    expect(await releases(one.adminKubeconfig)).toBe(helmReleaseName);
    expect(await releases(other.adminKubeconfig)).toBe(helmReleaseName);
    const r = await vw(
      ['purge', '--context', 'ctx-a', '--cluster', 'cluster-b', '--user', 'user-b', '--yes', '--helm', helm()],
      { kubeconfig: merged },
    );
    expect(r.stderr).toMatch(/purge plan for context "ctx-a" \(cluster "cluster-b"\)/);
    expect(r.exitCode).toBe(0);
    expect(await releases(other.adminKubeconfig)).toBe('');
    expect(await releases(one.adminKubeconfig)).toBe(helmReleaseName);
  });
});
