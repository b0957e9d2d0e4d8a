import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { type FakeOdoo, decommissionPath, healthPath, startFakeOdoo } from '../support/fake-odoo';

// The fake Odoo is what the simulated operator calls on Cluster deletion; these tests pin its
// modes, since the decommission tests read "Odoo down" and "Odoo back" through them.

const post = (url: string, body: unknown, signal?: AbortSignal) =>
  fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'User-Agent': 'vworkspace-operator/v0.1.0' },
    body: JSON.stringify(body),
    signal,
  });

describe('fake Odoo', () => {
  let odoo: FakeOdoo;
  beforeEach(async () => {
    odoo = await startFakeOdoo();
  });
  afterEach(async () => {
    await odoo.stop();
  });

  test('listens on 127.0.0.1 with a free port and answers health', async () => {
    expect(odoo.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${odoo.url}${healthPath}`);
    expect(res.status).toBe(200);
    expect(odoo.calls).toEqual([expect.objectContaining({ method: 'GET', path: healthPath, status: 200 })]);
  });

  test('acknowledges a decommission and records the cluster', async () => {
    const res = await post(`${odoo.url}${decommissionPath}`, { clusterID: 'c-1' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ acknowledged: true });
    expect(odoo.decommissioned()).toEqual(['c-1']);
    const [call] = odoo.decommissionCalls();
    expect(call).toMatchObject({
      method: 'POST',
      path: decommissionPath,
      body: { clusterID: 'c-1' },
      status: 200,
      userAgent: 'vworkspace-operator/v0.1.0',
    });
    expect(call?.time).toBeInstanceOf(Date);
  });

  test('refuses a decommission without a clusterID and records nothing as decommissioned', async () => {
    const res = await post(`${odoo.url}${decommissionPath}`, {});
    expect(res.status).toBe(400);
    expect(odoo.decommissioned()).toEqual([]);
    expect(odoo.calls).toHaveLength(1);
  });

  test('down refuses connections; back up answers on the same port', async () => {
    await odoo.setMode('down');
    await expect(fetch(`${odoo.url}${healthPath}`)).rejects.toMatchObject({
      cause: expect.objectContaining({ code: 'ECONNREFUSED' }),
    });
    expect(odoo.calls).toHaveLength(0);
    await odoo.setMode('up');
    const res = await post(`${odoo.url}${decommissionPath}`, { clusterID: 'c-2' });
    expect(res.status).toBe(200);
    expect(odoo.decommissioned()).toEqual(['c-2']);
  });

  test('failing answers 503 and acknowledges nothing', async () => {
    await odoo.setMode('failing');
    const res = await post(`${odoo.url}${decommissionPath}`, { clusterID: 'c-3' });
    expect(res.status).toBe(503);
    expect(odoo.decommissioned()).toEqual([]);
    expect(odoo.calls[0]?.status).toBe(503);
  });

  test('slow answers after the delay; a caller that gives up sees a timeout', async () => {
    await odoo.setMode('slow', { delayMs: 400 });
    const started = Date.now();
    const res = await fetch(`${odoo.url}${healthPath}`);
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);

    await expect(
      post(`${odoo.url}${decommissionPath}`, { clusterID: 'c-4' }, AbortSignal.timeout(100)),
    ).rejects.toThrow();
    expect(odoo.decommissioned()).toEqual([]);
    await odoo.setMode('up');
    const fast = Date.now();
    expect((await fetch(`${odoo.url}${healthPath}`)).status).toBe(200);
    expect(Date.now() - fast).toBeLessThan(300);
  });

  test('unauthorized answers 401 to every agent call and acknowledges nothing', async () => {
    await odoo.setMode('unauthorized');
    expect((await fetch(`${odoo.url}${healthPath}`)).status).toBe(401);
    const res = await post(`${odoo.url}${decommissionPath}`, { clusterID: 'c-5' });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: expect.stringContaining('credential') });
    expect(odoo.decommissioned()).toEqual([]);
    expect(odoo.calls.map((c) => c.status)).toEqual([401, 401]);
  });

  test('rejecting refuses the decommission with a 4xx (409 unless told) and answers the rest', async () => {
    await odoo.setMode('rejecting');
    expect((await post(`${odoo.url}${decommissionPath}`, { clusterID: 'c-6' })).status).toBe(409);
    expect((await fetch(`${odoo.url}${healthPath}`)).status).toBe(200);
    await odoo.setMode('rejecting', { status: 404 });
    expect((await post(`${odoo.url}${decommissionPath}`, { clusterID: 'c-6' })).status).toBe(404);
    expect(odoo.decommissioned()).toEqual([]);
    await expect(odoo.setMode('rejecting', { status: 503 })).rejects.toThrow(/4xx/);
    await odoo.setMode('up');
    expect((await post(`${odoo.url}${decommissionPath}`, { clusterID: 'c-6' })).status).toBe(200);
    expect(odoo.decommissioned()).toEqual(['c-6']);
  });

  test('an unknown mode is refused', async () => {
    await expect(odoo.setMode('sideways' as never)).rejects.toThrow(/unknown Odoo mode/);
    expect(odoo.mode).toBe('up');
  });
});
