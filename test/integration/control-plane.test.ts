import { helmReleaseName, operatorCrds, operatorNamespace } from '../support/contract';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy';
import { core, helmOwnership } from '../support/kinds';
import { Kube } from '../support/kube';
import {
  adminKubeconfig,
  createTestNamespace,
  deleteNamespace,
  kubectl,
  kubectlOk,
  restrictedKubeconfig,
} from '../support/kube-env';

// The harness itself, proven with the real kubectl: what every other integration test takes for
// granted (CRDs served and validating, RBAC enforced, namespace and garbage-collector controllers
// running, the fault proxy in front of the API server) is checked here once.

const upstreamCrds = {
  'helmreleases.helm.toolkit.fluxcd.io': 'v2',
  'backups.velero.io': 'v1',
  'backupstoragelocations.velero.io': 'v1',
  'volumesnapshots.snapshot.storage.k8s.io': 'v1',
  'volumesnapshotcontents.snapshot.storage.k8s.io': 'v1',
  'volumesnapshotclasses.snapshot.storage.k8s.io': 'v1',
};

interface Crd {
  spec: { versions: { name: string; served: boolean; subresources?: { status?: object } }[] };
  status?: { conditions?: { type: string; status: string }[] };
}

const getJson = async <T>(args: string[]): Promise<T> => JSON.parse(await kubectlOk([...args, '-o', 'json'])) as T;

const operation = (ns: string, name: string, spec: { type?: string; ttl?: string }) => ({
  apiVersion: 'ops.vworkspace.io/v1alpha1',
  kind: 'Operation',
  metadata: { name, namespace: ns },
  spec: {
    targetRef: { apiVersion: 'apps.vworkspace.io/v1alpha1', kind: 'ApplicationInstance', name: 'app' },
    type: spec.type ?? 'Backup',
    engine: 'velero',
    parameters: {
      storageLocation: 'aws-primary',
      snapshotVolumes: true,
      csiSnapshotClassName: 'csi-rbd',
      ttl: spec.ttl ?? '8760h',
    },
  },
});

const applicationInstance = (ns: string, name: string) => ({
  apiVersion: 'apps.vworkspace.io/v1alpha1',
  kind: 'ApplicationInstance',
  metadata: { name, namespace: ns },
  spec: { catalogRef: { name: 'odoo', version: '17.0' }, values: { replicas: 1, nested: { any: ['thing'] } } },
});

let ns: string;

beforeAll(async () => {
  ns = await createTestNamespace('control-plane');
});

afterAll(async () => {
  if (ns) await deleteNamespace(ns);
});

test('the API server answers', async () => {
  expect(await kubectlOk(['get', '--raw', '/readyz'])).toBe('ok');
  const version = await getJson<{ serverVersion: { gitVersion: string } }>(['version']);
  expect(version.serverVersion.gitVersion).toMatch(/^v1\.\d+\.\d+/);
});

test.each([...operatorCrds.map((name) => [name, 'v1alpha1'] as const), ...Object.entries(upstreamCrds)])(
  'CRD %s is Established and serves %s',
  async (name, version) => {
    const crd = await getJson<Crd>(['get', 'crd', name]);
    expect(crd.status?.conditions?.find((c) => c.type === 'Established')?.status).toBe('True');
    expect(crd.spec.versions.find((v) => v.name === version)?.served).toBe(true);
  },
);

test.each(operatorCrds)("%s carries the operator release's ownership, so helm install adopts it", async (name) => {
  const crd = await getJson<{ metadata: { labels?: Record<string, string>; annotations?: Record<string, string> } }>([
    'get',
    'crd',
    name,
  ]);
  expect(crd.metadata.labels?.[helmOwnership.managedByLabel]).toBe(helmOwnership.managedByValue);
  expect(crd.metadata.annotations).toMatchObject({
    [helmOwnership.releaseNameAnnotation]: helmReleaseName,
    [helmOwnership.releaseNamespaceAnnotation]: operatorNamespace,
  });
});

test.each(operatorCrds)('%s has the status subresource', async (name) => {
  const crd = await getJson<Crd>(['get', 'crd', name]);
  expect(crd.spec.versions.find((v) => v.name === 'v1alpha1')?.subresources?.status).toEqual({});
});

test('an ApplicationInstance status is written through the status subresource only, and backup.capable defaults to true', async () => {
  await kubectlOk(['apply', '-f', '-'], { input: applicationInstance(ns, 'status-app') });
  const status = { helmReleaseRef: { name: 'status-app' } };
  // Through the main resource, status is ignored...
  await kubectlOk([
    'patch',
    'applicationinstance',
    'status-app',
    '-n',
    ns,
    '--type=merge',
    '-p',
    JSON.stringify({ status }),
  ]);
  let ai = await getJson<{ spec: { backup?: { capable?: boolean } }; status?: object }>([
    'get',
    'ai',
    'status-app',
    '-n',
    ns,
  ]);
  expect(ai.status).toBeUndefined();
  expect(ai.spec.backup?.capable).toBe(true);
  // ...and through /status it is kept.
  await kubectlOk([
    'patch',
    'applicationinstance',
    'status-app',
    '-n',
    ns,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({ status }),
  ]);
  ai = await getJson(['get', 'ai', 'status-app', '-n', ns]);
  expect(ai.status).toEqual(status);
});

test('conditions must be complete metav1.Conditions', async () => {
  await kubectlOk(['apply', '-f', '-'], { input: applicationInstance(ns, 'conditions-app') });
  const condition = {
    type: 'Suspended',
    status: 'True',
    reason: 'ReconcilePaused',
    message: '',
    lastTransitionTime: '2026-05-30T10:00:00Z',
  };
  const patch = (c: object) =>
    kubectl([
      'patch',
      'ai',
      'conditions-app',
      '-n',
      ns,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { conditions: [c] } }),
    ]);
  expect((await patch(condition)).exitCode).toBe(0);
  const { reason: _, ...withoutReason } = condition;
  const refused = await patch(withoutReason);
  expect(refused.exitCode).not.toBe(0);
  expect(refused.stderr).toContain('reason: Required value');
});

test('a well-formed final-backup Operation is accepted', async () => {
  for (const ttl of ['8760h', '720h30m', '1.5h', '90m', '30s']) {
    const r = await kubectl(['apply', '--dry-run=server', '-f', '-'], { input: operation(ns, 'ok', { ttl }) });
    expect({ ttl, ...r }).toMatchObject({ ttl, exitCode: 0 });
  }
});

test('an Operation with a ttl that is not a Go duration is rejected by the schema', async () => {
  const r = await kubectl(['apply', '-f', '-'], { input: operation(ns, 'bad-ttl', { ttl: '1y' }) });
  expect(r.exitCode).not.toBe(0);
  expect(r.stderr).toContain('spec.parameters.ttl');
  expect(r.stderr).toContain('should match');
  expect((await kubectl(['get', 'operation', 'bad-ttl', '-n', ns])).exitCode).not.toBe(0);
});

test('an Operation of an unknown type is rejected by the schema', async () => {
  const r = await kubectl(['apply', '-f', '-'], { input: operation(ns, 'bad-type', { type: 'Delete' }) });
  expect(r.exitCode).not.toBe(0);
  expect(r.stderr).toMatch(/spec\.type: Unsupported value: "Delete"/);
});

test('the restricted user can list ApplicationInstances but is Forbidden to patch them', async () => {
  await kubectlOk(['apply', '-f', '-'], { input: applicationInstance(ns, 'rbac-app') });
  const kubeconfig = restrictedKubeconfig();
  const list = await kubectl(['get', 'applicationinstances', '-n', ns, '-o', 'name'], { kubeconfig });
  expect(list).toMatchObject({ exitCode: 0 });
  expect(list.stdout).toContain('applicationinstance.apps.vworkspace.io/rbac-app');
  const patch = await kubectl(
    ['annotate', 'applicationinstance', 'rbac-app', '-n', ns, 'apps.vworkspace.io/reconcile=disabled'],
    { kubeconfig },
  );
  expect(patch.exitCode).not.toBe(0);
  expect(patch.stderr).toContain('Forbidden');
  expect(patch.stderr).toContain('User "vw-restricted" cannot patch resource "applicationinstances"');
  const ai = await getJson<{ metadata: { annotations?: Record<string, string> } }>(['get', 'ai', 'rbac-app', '-n', ns]);
  expect(ai.metadata.annotations?.['apps.vworkspace.io/reconcile']).toBeUndefined();
});

test('a deleted namespace goes away with its contents (namespace controller)', async () => {
  const doomed = await createTestNamespace('doomed');
  await kubectlOk(['apply', '-f', '-'], { input: applicationInstance(doomed, 'inside') });
  await kubectlOk(['create', 'configmap', 'inside', '-n', doomed]);
  await deleteNamespace(doomed, { wait: true, timeoutMs: 90_000 });
  const after = await kubectl(['get', 'namespace', doomed]);
  expect(after.exitCode).not.toBe(0);
  expect(after.stderr).toContain('NotFound');
});

test('deleting an owner deletes its dependents (garbage collector)', async () => {
  await kubectlOk(['create', 'configmap', 'owner', '-n', ns]);
  const owner = await getJson<{ metadata: { uid: string } }>(['get', 'configmap', 'owner', '-n', ns]);
  await kubectlOk(['apply', '-f', '-'], {
    input: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'dependent',
        namespace: ns,
        ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid }],
      },
    },
  });
  expect((await kubectl(['get', 'configmap', 'dependent', '-n', ns])).exitCode).toBe(0);
  await kubectlOk(['delete', 'configmap', 'owner', '-n', ns, '--cascade=background']);
  await kubectlOk(['wait', '--for=delete', 'configmap/dependent', '-n', ns, '--timeout=60s']);
  expect((await kubectl(['get', 'configmap', 'dependent', '-n', ns])).stderr).toContain('NotFound');
});

describe('the fault proxy', () => {
  let proxy: FaultProxy;
  let kube: Kube;
  const configMap = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns } });

  beforeAll(async () => {
    proxy = await startFaultProxy(adminKubeconfig());
    kube = Kube.fromFile(proxy.kubeconfig, { userAgent: 'fault-proxy-test/v1', maxAttempts: 1 });
  });
  afterAll(async () => {
    kube?.close();
    await proxy?.stop();
  });
  beforeEach(() => {
    proxy.clearRules();
    proxy.clearRequests();
  });

  test('forwards with the admin credentials and records every request', async () => {
    await kube.create(core.configMaps, configMap('fp-plain'));
    const got = await kube.get(core.configMaps, 'fp-plain', ns);
    expect(got.metadata.name).toBe('fp-plain');
    expect(proxy.requests.map((r) => [r.method, r.path, r.status, r.forwarded, r.outcome, r.userAgent])).toEqual([
      ['POST', `/api/v1/namespaces/${ns}/configmaps`, 201, true, 'answered', 'fault-proxy-test/v1'],
      ['GET', `/api/v1/namespaces/${ns}/configmaps/fp-plain`, 200, true, 'answered', 'fault-proxy-test/v1'],
    ]);
  });

  test('429 with Retry-After on the next K matching requests: kubectl waits and retries, the record shows the spacing', async () => {
    await kube.create(core.configMaps, configMap('fp-throttled'));
    const rule = proxy.addRule({
      method: 'PATCH',
      path: /\/configmaps\/fp-throttled$/,
      action: { status: 429, retryAfterSeconds: 1 },
      times: 2,
    });
    await kubectlOk([
      '--kubeconfig',
      proxy.kubeconfig,
      'patch',
      'configmap',
      'fp-throttled',
      '-n',
      ns,
      '--type=merge',
      '-p',
      '{"data":{"k":"v"}}',
    ]);
    expect(rule.applied).toBe(2);
    expect(rule.remaining).toBe(0);
    const patches = proxy.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => [r.status, r.forwarded])).toEqual([
      [429, false],
      [429, false],
      [200, true],
    ]);
    for (let i = 1; i < patches.length; i++) {
      expect(patches[i]!.time.getTime() - patches[i - 1]!.time.getTime()).toBeGreaterThanOrEqual(950);
    }
  });

  test('rules can match dry runs only: the API server saw dryRun=All, and the real request went through', async () => {
    proxy.addRule({ dryRun: true, action: { status: 500 } });
    const input = { ...configMap('fp-dry'), data: { a: '1' } };
    const dry = await kubectl(['--kubeconfig', proxy.kubeconfig, 'apply', '--dry-run=server', '-f', '-'], { input });
    expect(dry.exitCode).not.toBe(0);
    const real = await kubectl(['--kubeconfig', proxy.kubeconfig, 'apply', '-f', '-'], { input });
    expect(real.exitCode).toBe(0);
    const dryRuns = proxy.requests.filter((r) => r.dryRun);
    expect(dryRuns.length).toBeGreaterThan(0);
    expect(dryRuns.every((r) => new URLSearchParams(r.query).get('dryRun') === 'All' && r.status === 500)).toBe(true);
    expect(proxy.requests.some((r) => !r.dryRun && r.method !== 'GET' && r.status === 201)).toBe(true);
  });

  test('reset before forwarding: the client sees a reset and the API server never saw the request', async () => {
    proxy.addRule({ method: 'POST', action: { reset: true }, times: 1 });
    await expect(kube.create(core.configMaps, configMap('fp-reset'))).rejects.toThrow();
    expect(proxy.requests[0]).toMatchObject({ method: 'POST', outcome: 'reset', forwarded: false });
    const admin = Kube.fromFile(adminKubeconfig());
    expect(await admin.find(core.configMaps, 'fp-reset', ns)).toBeUndefined();
    admin.close();
  });

  test('forward then drop: the API server applied it, the client sees a reset', async () => {
    proxy.addRule({ method: 'POST', action: { drop: true }, times: 1 });
    await expect(kube.create(core.configMaps, configMap('fp-dropped'))).rejects.toThrow();
    expect(proxy.requests[0]).toMatchObject({ method: 'POST', outcome: 'dropped', forwarded: true });
    const admin = Kube.fromFile(adminKubeconfig());
    expect(await admin.find(core.configMaps, 'fp-dropped', ns)).toBeDefined();
    admin.close();
  });

  test('delay, 5xx, and probability', async () => {
    proxy.addRule({ method: 'GET', path: /fp-plain$/, action: { delayMs: 400 }, times: 1 });
    const started = Date.now();
    await kube.get(core.configMaps, 'fp-plain', ns);
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    proxy.addRule({ method: 'GET', path: /fp-plain$/, action: { status: 503 }, times: 1 });
    await expect(kube.get(core.configMaps, 'fp-plain', ns)).rejects.toMatchObject({ status: 503 });
    const never = proxy.addRule({ method: 'GET', action: { status: 500 }, probability: 0 });
    await kube.get(core.configMaps, 'fp-plain', ns);
    expect(never.applied).toBe(0);
    const always = proxy.addRule({ method: 'GET', action: { status: 502 }, probability: 1 });
    await expect(kube.get(core.configMaps, 'fp-plain', ns)).rejects.toMatchObject({ status: 502 });
    always.remove();
    await kube.get(core.configMaps, 'fp-plain', ns);
  });
});
