import { join } from 'node:path';
import type { ControlPlane } from './control-plane';

// Starts one control plane per jest run; the workers inherit what is exported into process.env.
// `npm run test:unit` sets VW_UNIT_ONLY=1: unit tests need no cluster, so nothing is started.

declare global {
  var __vwControlPlane: ControlPlane | undefined;
}

export default async function globalSetup(): Promise<void> {
  if (process.env.VW_UNIT_ONLY === '1') return;
  // jest loads this file with Node's own loader, which neither resolves the repository's
  // extensionless imports nor compiles TypeScript: the loader the sandbox uses does both.
  // @ts-expect-error: a plain .mjs module without types; importing it registers the hooks.
  await import('./ts-loader.mjs');
  const { startControlPlane } = await import('./control-plane');
  const log = (s: string) => process.stderr.write(`[control-plane] ${s}\n`);
  const cp = await startControlPlane({ log });
  globalThis.__vwControlPlane = cp;
  process.env.VW_TEST_KUBECONFIG = cp.adminKubeconfig;
  if (cp.restrictedKubeconfig) process.env.VW_TEST_RESTRICTED_KUBECONFIG = cp.restrictedKubeconfig;
  else delete process.env.VW_TEST_RESTRICTED_KUBECONFIG;
  process.env.VW_TEST_SERVER = cp.server;
  process.env.VW_TEST_BIN_DIR = cp.binDir;
  process.env.VW_TEST_DIR = cp.dir;
  // Anything that forgets --kubeconfig reaches the test cluster, never the developer's own, and
  // kubectl's discovery cache for these one-off ports stays out of ~/.kube/cache.
  process.env.KUBECONFIG = cp.adminKubeconfig;
  process.env.KUBECACHEDIR = join(cp.dir, 'kubectl-cache');
}
