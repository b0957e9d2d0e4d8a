import tls from 'node:tls';
import { jest } from '@jest/globals';
import { KubeClient } from '../../lib/kube/client';
import { resolveKubeTarget } from '../../lib/kube/config';
import { core, type KubeObject } from '../../lib/kube/resources';
import { waitForObjects } from '../../lib/kube/watch';
import { adminKubeconfig, createTestNamespace, deleteNamespace } from '../support/kube-env';

// The client layer every plugin stands on, against the real API server.
describe('KubeClient', () => {
  let client: KubeClient;
  let ns: string;
  const configMap = (name: string, data: Record<string, string> = {}) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: ns },
    data,
  });

  beforeAll(async () => {
    client = new KubeClient(resolveKubeTarget({ kubeconfig: adminKubeconfig() }, process.env));
    ns = await createTestNamespace('client');
    await Promise.all(Array.from({ length: 7 }, (_, i) => client.create(core.configMaps, configMap(`cm-${i}`), ns)));
  });

  afterAll(async () => {
    client.close();
    await deleteNamespace(ns, { wait: true });
  });

  it('lists page by page with limit/continue', async () => {
    const pages: number[] = [];
    for await (const page of client.listPages(core.configMaps, { namespace: ns, limit: 3, labelSelector: '' })) {
      pages.push(page.items.filter((c) => c.metadata.name.startsWith('cm-')).length);
    }
    expect(pages.length).toBeGreaterThanOrEqual(3);
    expect(pages.reduce((a, b) => a + b, 0)).toBe(7);
  });

  it('server-side dry run: create and delete are validated, not persisted', async () => {
    await client.create(core.configMaps, configMap('dry'), ns, true);
    expect(await client.find(core.configMaps, 'dry', ns)).toBeUndefined();
    await client.delete(core.configMaps, 'cm-0', ns, { dryRun: true });
    const still = await client.find(core.configMaps, 'cm-0', ns);
    expect(still?.metadata.deletionTimestamp).toBeUndefined();
    expect(still).toBeDefined();
  });

  it('update re-reads and re-applies on 409 conflicts', async () => {
    let calls = 0;
    const { changed, object } = await client.update<KubeObject>(core.configMaps, 'cm-1', ns, (cm) => {
      calls++;
      // Another writer moves the object on between our read and our write, the first time only.
      if (calls === 1) void client.mergePatch(core.configMaps, 'cm-1', ns, { data: { other: 'writer' } });
      return { ...cm, data: { ...(cm.data as Record<string, string>), ours: 'yes' } };
    });
    expect(changed).toBe(true);
    expect(object.data).toMatchObject({ ours: 'yes' });
  });

  it('waits through a watch, and says which objects never got there', async () => {
    setTimeout(() => void client.delete(core.configMaps, 'cm-2', ns), 300);
    const gone = await waitForObjects(client, core.configMaps, [`${ns}/cm-2`], (o) => !o, {
      namespace: ns,
      timeoutMs: 20_000,
    });
    expect(gone).toMatchObject({ timedOut: false, pending: [] });
    const never = await waitForObjects(client, core.configMaps, [`${ns}/cm-3`], (o) => !o, {
      namespace: ns,
      timeoutMs: 500,
    });
    expect(never).toMatchObject({ timedOut: true, pending: [`${ns}/cm-3`] });
  });

  it('reads started together pay one full TLS handshake: the others resume its session', async () => {
    // Counted at the socket, as the API server sees it: a new TLS session or a resumed one.
    const handshakes = { full: 0, resumed: 0 };
    const connect = tls.connect;
    const spy = jest.spyOn(tls, 'connect').mockImplementation((...args: Parameters<typeof tls.connect>) => {
      const socket = connect(...args);
      socket.once('secureConnect', () => (socket.isSessionReused() ? handshakes.resumed++ : handshakes.full++));
      return socket;
    });
    const fresh = new KubeClient(resolveKubeTarget({ kubeconfig: adminKubeconfig() }, process.env));
    try {
      const read = await Promise.all(Array.from({ length: 8 }, () => fresh.find(core.namespaces, ns)));
      expect(read.map((n) => n?.metadata.name)).toEqual(Array(8).fill(ns));
    } finally {
      fresh.close();
      spy.mockRestore();
    }
    expect(handshakes.full).toBe(1);
    expect(handshakes.full + handshakes.resumed).toBeGreaterThan(1);
  });
});
