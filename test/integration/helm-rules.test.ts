import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type ControlPlane, startControlPlane } from '../support/control-plane';
import { installOperatorChart } from '../support/chart';
import { toolsDir } from '../support/control-plane/binaries';
import { kubectl, kubectlOk } from '../support/kube-env';
import { itemsOf, unwrapped, vw } from '../helpers/plugins';

// helm's rules, not ours: what helm uninstall keeps is what helm's own reading of
// helm.sh/resource-policy keeps (pkg/action/resource_policy.go: trimmed, lower-cased, "keep"),
// checked against the real helm; and a release that renders other CRDs without the keep policy
// (Velero's, here) is refused before anything is deleted, unless a flag names them. On a control
// plane of its own: helm uninstall takes Velero's Backup CRD with it.

const system = 'vworkspace-system';

/** The spellings of the policy, each on a ConfigMap of its own the stand-in chart renders. */
const spellings = ['keep', 'Keep', 'KEEP', ' keep', 'keep ', '\tKeep\n', 'delete', 'keeps', 'no keep', ''];
const probeName = (i: number) => `policy-probe-${i}`;

describe("helm's rules", () => {
  let cp: ControlPlane;
  let kubeconfig: string;
  const helmBin = () => join(cp.binDir, 'helm');
  const get = (args: string[]) => kubectl(args, { kubeconfig });

  beforeAll(async () => {
    cp = await startControlPlane({});
    kubeconfig = cp.adminKubeconfig;
  }, 120_000);

  afterAll(async () => {
    await cp?.stop();
  });

  describe('helm.sh/resource-policy, as helm reads it', () => {
    /** What the plan said of each probe, and which probes the real helm uninstall left. */
    let planned: Map<string, string>;
    let reported: string[];
    let left: Set<string>;

    beforeAll(async () => {
      await installOperatorChart(kubeconfig, {
        helmBin: helmBin(),
        values: { policyProbes: spellings.map((policy, i) => ({ name: probeName(i), policy })) },
      });
      const plan = await vw(['purge', '--dry-run=client', '--helm', helmBin(), '-o', 'json'], { kubeconfig });
      expect({ code: plan.exitCode, stderr: plan.exitCode ? plan.stderr : '' }).toEqual({ code: 0, stderr: '' });
      planned = new Map(
        itemsOf(plan.stdout)
          .filter((i) => i.kind === 'ConfigMap')
          .map((i) => [i.name, i.action]),
      );
      const run = await vw(['purge', '--yes', '--helm', helmBin(), '-o', 'json'], { kubeconfig });
      expect({ code: run.exitCode, stderr: run.exitCode ? run.stderr : '' }).toEqual({ code: 0, stderr: '' });
      reported = JSON.parse(run.stdout).persists.rows.find((r: { id: string }) => r.id === 'helm-kept').objects;
      const cms = JSON.parse((await get(['get', 'configmaps', '-n', system, '-o', 'json'])).stdout).items as {
        metadata: { name: string };
      }[];
      left = new Set(cms.map((c) => c.metadata.name));
    }, 180_000);

    it.each(spellings.map((s, i) => [JSON.stringify(s), i]))(
      'helm.sh/resource-policy: %s: the plan says what helm uninstall does, and the report lists what it left',
      (_spelling, i) => {
        const name = probeName(i as number);
        expect(planned.has(name)).toBe(true);
        const helmLeftIt = left.has(name);
        expect({ name, planned: planned.get(name) }).toEqual({ name, planned: helmLeftIt ? 'keep' : 'delete' });
        expect(reported.includes(`ConfigMap/${name}`)).toBe(helmLeftIt);
      },
    );

    it('helm deletes only what carries no policy at all: any value leaves the object in place', () => {
      expect(spellings.filter((_, i) => left.has(probeName(i)))).toEqual(spellings);
      // The one object without the annotation went.
      expect(planned.size).toBe(spellings.length);
    });
  });

  describe('other CRDs the release renders', () => {
    const veleroCrd = 'backups.velero.io';

    beforeAll(async () => {
      // As a bundle that renders Velero's CRDs would have left it: owned by the release, no keep policy.
      await kubectlOk(['label', 'crd', veleroCrd, 'app.kubernetes.io/managed-by=Helm', '--overwrite'], { kubeconfig });
      await kubectlOk(
        [
          'annotate',
          'crd',
          veleroCrd,
          'meta.helm.sh/release-name=vworkspace-app-operator',
          `meta.helm.sh/release-namespace=${system}`,
          '--overwrite',
        ],
        { kubeconfig },
      );
      await installOperatorChart(kubeconfig, {
        helmBin: helmBin(),
        bundleCrdFiles: [veleroCrdFile()],
      });
      await kubectlOk(['create', 'namespace', 'velero'], { kubeconfig }).catch(() => undefined);
      for (const name of ['nightly-1', 'nightly-2'])
        await kubectlOk(['apply', '-f', '-'], {
          kubeconfig,
          input: {
            apiVersion: 'velero.io/v1',
            kind: 'Backup',
            metadata: { name, namespace: 'velero' },
            spec: { storageLocation: 'aws-primary', ttl: '720h0m0s' },
          },
        });
    }, 120_000);

    /** The upstream CRD file the control plane installed Velero's Backups from. */
    function veleroCrdFile() {
      const dir = join(toolsDir(), 'crds');
      const file = readdirSync(dir).find((f) => f.includes('velero.io_backups'));
      if (!file) throw new Error(`no Velero Backup CRD in ${dir}`);
      return join(dir, file);
    }

    const releaseThere = async () =>
      (await get(['get', 'secrets', '-n', system, '-l', 'owner=helm', '-o', 'name'])).stdout.trim() !== '';

    it('purge names each such CRD with its objects counted and refuses, before anything is deleted', async () => {
      for (const args of [['--dry-run=client'], ['--yes']]) {
        const r = await vw(['purge', ...args, '--helm', helmBin()], { kubeconfig });
        expect({ args, code: r.exitCode }).toEqual({ args, code: 3 });
        expect(unwrapped(r.stderr)).toMatch(/helm uninstall would delete a CRD .*backups\.velero\.io \(2 Backups\)/);
        expect(unwrapped(r.stderr)).toMatch(/--delete-release-crds backups\.velero\.io/);
      }
      expect(await releaseThere()).toBe(true);
      expect(
        (await get(['get', 'backups.velero.io', '-n', 'velero', '-o', 'name'])).stdout.trim().split('\n'),
      ).toHaveLength(2);
    });

    it('a name the release does not delete is a usage error', async () => {
      const r = await vw(
        ['purge', '--yes', '--helm', helmBin(), '--delete-release-crds', 'helmreleases.helm.toolkit.fluxcd.io'],
        {
          kubeconfig,
        },
      );
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/the release does not delete that CRD/);
      expect(await releaseThere()).toBe(true);
    });

    it('named on purpose, helm uninstall deletes it, and every Backup with it', async () => {
      const r = await vw(['purge', '--yes', '--helm', helmBin(), '--delete-release-crds', veleroCrd], { kubeconfig });
      expect({ code: r.exitCode, stderr: r.exitCode ? r.stderr : '' }).toEqual({ code: 0, stderr: '' });
      expect(await releaseThere()).toBe(false);
      const crd = await get(['get', 'crd', veleroCrd, '-o', 'json']);
      // Gone, or on its way (the API server deletes every Backup first).
      expect(crd.exitCode === 1 || Boolean(JSON.parse(crd.stdout).metadata.deletionTimestamp)).toBe(true);
    });
  });
});
