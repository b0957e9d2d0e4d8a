import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import yaml from 'js-yaml';
import type { KubeClient } from '../../lib/kube/client';
import { pauseAnnotation } from '../../lib/operator/names';
import { adminKubeconfig, createTestNamespace, deleteNamespace } from '../support/kube-env';
import { startForwardProxy } from '../helpers/forward-proxy';
import { adminClient, createApps, distBin, vw } from '../helpers/plugins';

// Every wait is bounded: watches reconnect with backoff, Retry-After is capped, --timeout is a
// hard bound on every request made while waiting, connecting, the TLS handshake and the wait for
// response headers are bounded as client-go bounds them, --request-timeout bounds a whole request
// (retries included), and the first SIGTERM or Ctrl-C ends a run at once.

/** An endpoint that accepts connections and never answers: a hung proxy or API server. */
async function silentEndpoint() {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

describe('bounded waits', () => {
  let kubeconfig: string;
  let client: KubeClient;
  let ns: string;

  beforeAll(async () => {
    kubeconfig = adminKubeconfig();
    client = adminClient(kubeconfig);
    ns = await createTestNamespace('bounded');
    await createApps(client, ns, [{ name: 'w1' }, { name: 'w2', annotations: { [pauseAnnotation]: 'disabled' } }]);
  });

  afterAll(async () => {
    await deleteNamespace(ns, { wait: true });
  });

  it('a watch that keeps ending with an in-band ERROR reconnects with backoff, not in a hot loop', async () => {
    const proxy = await startForwardProxy(kubeconfig, (r) => (r.watch ? { watchError: 500 } : { forward: true }));
    try {
      // No operator confirms the pause: the run waits through the watch until its timeout.
      const r = await vw(['pause', '-n', ns, 'w1', '--timeout', '5s'], { kubeconfig: proxy.kubeconfig });
      expect(r.exitCode).toBe(4);
      const watches = proxy.log.filter((x) => x.watch).length;
      expect(watches).toBeGreaterThan(0);
      expect(watches).toBeLessThan(30);
    } finally {
      await proxy.stop();
    }
  });

  it('a Retry-After of an hour is waited for at most a few seconds', async () => {
    let throttled = false;
    const proxy = await startForwardProxy(kubeconfig, (r) => {
      // The instance's patch, not the run journal's (a run's first PATCH is its journal entry).
      if (r.method === 'PATCH' && r.path.includes('/applicationinstances/') && !throttled) {
        throttled = true;
        return { status: 429, headers: { 'Retry-After': '3600' } };
      }
      return { forward: true };
    });
    try {
      const r = await vw(['resume', '-n', ns, 'w2', '--force-all', '--no-wait'], {
        kubeconfig: proxy.kubeconfig,
        timeoutMs: 60_000,
      });
      expect(r.exitCode).toBe(0);
      const patches = proxy.log.filter((x) => x.method === 'PATCH' && x.path.includes('/applicationinstances/'));
      expect(patches.length).toBe(2);
      const spacing = (patches[1]?.at ?? 0) - (patches[0]?.at ?? 0);
      expect(spacing).toBeGreaterThanOrEqual(9_000); // the server asked for a while: never sooner than the cap
      expect(spacing).toBeLessThan(20_000); // ... and never an hour
    } finally {
      await proxy.stop();
    }
  });

  it('--timeout bounds every request of a wait, even one the server never answers', async () => {
    // The plan's list is answered; every request of the wait after it (list, watch) hangs.
    let lists = 0;
    const proxy = await startForwardProxy(kubeconfig, (r) => {
      const ofInstances = r.method === 'GET' && r.path.endsWith('/applicationinstances');
      if (ofInstances && !r.watch) lists++;
      return ofInstances && (r.watch || lists > 1) ? { forward: true, delayMs: 120_000 } : { forward: true };
    });
    try {
      const started = Date.now();
      const r = await vw(['pause', '-n', ns, 'w1', '--timeout', '3s'], {
        kubeconfig: proxy.kubeconfig,
        timeoutMs: 100_000,
      });
      expect(r.exitCode).toBe(4);
      expect(Date.now() - started).toBeLessThan(30_000);
    } finally {
      await proxy.stop();
    }
  });

  describe('an endpoint that accepts connections and never answers', () => {
    let silent: Awaited<ReturnType<typeof silentEndpoint>>;
    const configs: Record<'server' | 'proxy', string> = { server: '', proxy: '' };

    beforeAll(async () => {
      silent = await silentEndpoint();
      const dir = mkdtempSync(join(tmpdir(), 'vw-silent-'));
      const base = yaml.load(readFileSync(kubeconfig, 'utf8')) as {
        clusters: { cluster: Record<string, unknown> }[];
      };
      const write = (name: 'server' | 'proxy', mutate: (c: Record<string, unknown>) => void) => {
        const k = structuredClone(base);
        mutate(k.clusters[0]?.cluster as Record<string, unknown>);
        configs[name] = join(dir, `${name}.yaml`);
        writeFileSync(configs[name], yaml.dump(k));
      };
      write('server', (c) => {
        c.server = `https://127.0.0.1:${silent.port}`;
      });
      write('proxy', (c) => {
        c['proxy-url'] = `http://127.0.0.1:${silent.port}`;
      });
    });

    afterAll(async () => {
      await silent?.stop();
    });

    const timed = async (args: string[], config: string) => {
      const started = Date.now();
      const r = await vw(args, { kubeconfig: config, timeoutMs: 120_000 });
      return { ...r, seconds: (Date.now() - started) / 1000 };
    };

    it("as the server: the TLS handshake is bounded (10 s, as client-go's), one line, exit 3", async () => {
      const r = await timed(['status'], configs.server);
      expect(r.exitCode).toBe(3);
      expect(r.stderr).toMatch(
        /^error: cannot reach the API server at https:\/\/127\.0\.0\.1:\d+: no TLS handshake within 10s/,
      );
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.seconds).toBeGreaterThan(9);
      expect(r.seconds).toBeLessThan(20);
    });

    it('as the proxy-url: connecting through it is bounded (30 s, as client-go dials)', async () => {
      const r = await timed(['status'], configs.proxy);
      expect(r.exitCode).toBe(3);
      expect(r.stderr).toMatch(/no connection within 30s through proxy http:\/\/127\.0\.0\.1:\d+/);
      expect(r.seconds).toBeGreaterThan(29);
      expect(r.seconds).toBeLessThan(45);
    }, 120_000);

    it.each(['server', 'proxy'] as const)(
      'as the %s: --request-timeout 5s bounds the whole request, retries included',
      async (which) => {
        const r = await timed(['status', '--request-timeout', '5s'], configs[which]);
        expect(r.exitCode).toBe(3);
        expect(r.stderr).toMatch(/no answer within --request-timeout 5s/);
        expect(r.seconds).toBeLessThan(8);
      },
    );

    it.each([
      ['server', 'SIGTERM'],
      ['server', 'SIGINT'],
      ['proxy', 'SIGTERM'],
    ] as const)(
      'as the %s: the first %s ends the run at once, exit 130, with the usual line',
      async (which, signal) => {
        const run = execa(join(distBin, 'kubectl-vw'), ['status'], {
          env: { KUBECONFIG: configs[which], NO_COLOR: '1' },
          reject: false,
          timeout: 60_000,
        });
        await new Promise((r) => setTimeout(r, 1500)); // well into the hung request
        const sent = Date.now();
        run.kill(signal);
        const r = await run;
        const seconds = (Date.now() - sent) / 1000;
        expect(r.exitCode).toBe(130);
        expect(String(r.stderr)).toMatch(new RegExp(`^error: interrupted \\(${signal}\\)`));
        expect(seconds).toBeLessThan(2);
      },
    );
  });

  it('a server that takes requests but never sends response headers: bounded (45 s), exit 3', async () => {
    const proxy = await startForwardProxy(kubeconfig, () => ({ forward: true, delayMs: 600_000 }));
    try {
      const started = Date.now();
      const r = await vw(['status'], { kubeconfig: proxy.kubeconfig, timeoutMs: 120_000 });
      expect(r.exitCode).toBe(3);
      expect(r.stderr).toMatch(/no response within 45s/);
      expect((Date.now() - started) / 1000).toBeLessThan(60);
    } finally {
      await proxy.stop();
    }
  }, 120_000);
});
