import { existsSync, readFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';
import type { ControlPlane } from './control-plane';

// Starts one control plane per jest run; the workers inherit what is exported into process.env.
// `npm run test:unit` sets VW_UNIT_ONLY=1: unit tests need no cluster, so nothing is started.

declare global {
  var __vwControlPlane: ControlPlane | undefined;
}

export default async function globalSetup(): Promise<void> {
  if (process.env.VW_UNIT_ONLY === '1') return;
  loadTypeScriptImports();
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

/**
 * jest loads this file with Node's own loader (require of an ES module): what it imports is
 * neither resolved without extensions nor passed through jest's transform. These hooks do both
 * for the repository's TypeScript, the same way the jest transform does (esbuild, to ESM).
 */
function loadTypeScriptImports(): void {
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (/^\.\.?\//.test(specifier) && !/\.[cm]?[jt]s$/.test(specifier) && context.parentURL?.endsWith('.ts')) {
        const candidate = new URL(`${specifier}.ts`, context.parentURL);
        if (existsSync(candidate)) return { url: candidate.href, shortCircuit: true };
      }
      return nextResolve(specifier, context);
    },
    load(url, context, nextLoad) {
      if (!url.startsWith('file:') || !url.endsWith('.ts') || url.includes('/node_modules/'))
        return nextLoad(url, context);
      const filename = fileURLToPath(url);
      const { code } = transformSync(readFileSync(filename, 'utf8'), {
        loader: 'ts',
        format: 'esm',
        target: 'node22',
        sourcefile: filename,
      });
      return { format: 'module', source: code, shortCircuit: true };
    },
  });
}
