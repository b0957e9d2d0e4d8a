// Bundles every entry point with esbuild into dist/: one CommonJS file each (what Node's
// single executable applications take), minified, with a source map beside it.
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const entries = {};
for (const dir of readdirSync('plugins', { withFileTypes: true })) {
  const main = `plugins/${dir.name}/main.ts`;
  if (dir.isDirectory() && existsSync(main))
    entries[dir.name === 'vw' ? 'kubectl-vw' : `kubectl-vw-${dir.name}`] = main;
}
if (existsSync('test/support/sandbox-main.ts')) entries.sandbox = 'test/support/sandbox-main.ts';
if (existsSync('test/bench/main.ts')) entries.bench = 'test/bench/main.ts';

await build({
  entryPoints: entries,
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  minify: true,
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  banner: { js: '#!/usr/bin/env node' },
});
// The repo is ESM ("type": "module"); the bundles are CommonJS, so dist/ says so.
mkdirSync('dist', { recursive: true });
writeFileSync('dist/package.json', '{ "type": "commonjs" }\n');
for (const name of Object.keys(entries)) chmodSync(`dist/${name}.js`, 0o755);
console.error(`built ${Object.keys(entries).length} bundles into dist/`);

// dist/bin: what a user puts on PATH to get `kubectl vw ...` from the bundles (tests do the same).
// kubectl_complete-vw is kubectl's plugin completion hook (kubectl 1.26+).
mkdirSync('dist/bin', { recursive: true });
const wrapper = (bundle, extra = '') =>
  `#!/bin/sh\nexec node "$(dirname "$(readlink -f "$0")")/../${bundle}.js" ${extra}"$@"\n`;
for (const name of Object.keys(entries).filter((n) => n.startsWith('kubectl-vw'))) {
  writeFileSync(`dist/bin/${name}`, wrapper(name));
  chmodSync(`dist/bin/${name}`, 0o755);
}
writeFileSync('dist/bin/kubectl_complete-vw', wrapper('kubectl-vw', '__complete '));
chmodSync('dist/bin/kubectl_complete-vw', 0o755);
