// Bundles every entry point with esbuild into dist/: one CommonJS file each (what Node's
// single executable applications take), minified, with a source map beside it.
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

// VW_DIST puts the bundles elsewhere (the release script builds versioned bundles beside dist/);
// VW_UNMINIFIED=1 keeps names, for reading a CPU profile (node --cpu-prof dist/kubectl-vw.js ...).
const outdir = process.env.VW_DIST || 'dist';
const version = process.env.VW_VERSION || JSON.parse(readFileSync('package.json', 'utf8')).version;

const entries = {};
for (const dir of readdirSync('plugins', { withFileTypes: true })) {
  const main = `plugins/${dir.name}/main.ts`;
  if (dir.isDirectory() && existsSync(main))
    entries[dir.name === 'vw' ? 'kubectl-vw' : `kubectl-vw-${dir.name}`] = main;
}

/**
 * @kubernetes/client-node's kubeconfig module imports, for two methods kubectl vw never calls,
 * undici (applyToFetchOptions' dispatcher) and the generated API clients (makeApiClient): 1 MB of
 * the bundle, compiled and initialised on every start. The bundles get stand-ins that throw if
 * ever called; loading, exec plugins, tokens, certificates and proxies are untouched.
 */
const kubeconfigOnly = {
  name: 'kubeconfig-only',
  setup(b) {
    const unused = /^(undici|\.\/gen\/index\.js)$/;
    b.onResolve({ filter: unused }, (args) =>
      /@kubernetes[\\/]client-node[\\/]dist[\\/]config\.js$/.test(args.importer)
        ? { path: args.path, namespace: 'unused-by-kubectl-vw' }
        : undefined,
    );
    const refuse = (what) => `throw new Error('${what} is left out of the kubectl vw bundle (scripts/build.mjs)');`;
    b.onLoad({ filter: /.*/, namespace: 'unused-by-kubectl-vw' }, (args) => ({
      loader: 'js',
      contents:
        args.path === 'undici'
          ? `export class Agent { constructor() { ${refuse('undici')} } }\nexport class ProxyAgent extends Agent {}`
          : `export function createConfiguration() { ${refuse('makeApiClient')} }\nexport class ServerConfiguration { constructor() { ${refuse('makeApiClient')} } }`,
    }));
  },
};

await build({
  entryPoints: entries,
  plugins: [kubeconfigOnly],
  outdir,
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  minify: !process.env.VW_UNMINIFIED,
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  // Before any bundled module loads (they need Node 22 APIs and would fail with a stack trace),
  // refuse an older Node in one line. The standalone executables carry their own Node 22.
  banner: {
    js: [
      '#!/usr/bin/env node',
      '"use strict";',
      'if (+process.versions.node.split(".")[0] < 22) {',
      '  process.stderr.write("error: kubectl vw needs Node.js 22 or newer, this is " + process.versions.node +',
      '    ": install the standalone build (kubectl krew install vw), or put Node 22 first on PATH\\n");',
      '  process.exit(3);',
      '}',
    ].join('\n'),
  },
  define: { __VW_VERSION__: JSON.stringify(version) },
});
// The repo is ESM ("type": "module"); the bundles are CommonJS, so dist/ says so.
mkdirSync(outdir, { recursive: true });
writeFileSync(`${outdir}/package.json`, '{ "type": "commonjs" }\n');
for (const name of Object.keys(entries)) chmodSync(`${outdir}/${name}.js`, 0o755);
console.error(`built ${Object.keys(entries).length} bundles into ${outdir}/`);

// dist/bin: what a user puts on PATH to get `kubectl vw ...` from the bundles (tests do the same).
// kubectl_complete-vw (and -vw-<step>) are kubectl's plugin completion hooks (kubectl 1.26+).
mkdirSync(`${outdir}/bin`, { recursive: true });
// The wrappers run on the project's own Node 22 (the `node` devDependency) when it is there, so
// they work as printed on a machine whose `node` is older; elsewhere, on the `node` on PATH.
const wrapper = (bundle, extra = '') =>
  [
    '#!/bin/sh',
    'here="$(dirname "$(readlink -f "$0")")"',
    'node="$here/../../node_modules/node/bin/node"',
    '[ -x "$node" ] || node=node',
    `exec "$node" "$here/../${bundle}.js" ${extra}"$@"`,
    '',
  ].join('\n');
for (const name of Object.keys(entries).filter((n) => n.startsWith('kubectl-vw'))) {
  writeFileSync(`${outdir}/bin/${name}`, wrapper(name));
  chmodSync(`${outdir}/bin/${name}`, 0o755);
  // kubectl looks for kubectl_complete-vw-pause when kubectl-vw-pause is what runs `kubectl vw pause`.
  const step = name.slice('kubectl-vw-'.length);
  const helper = `${outdir}/bin/kubectl_complete-${name.slice('kubectl-'.length)}`;
  writeFileSync(helper, wrapper('kubectl-vw', step ? `__complete ${step} ` : '__complete '));
  chmodSync(helper, 0o755);
}
