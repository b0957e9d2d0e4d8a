// Bundles every entry point with esbuild into dist/: one CommonJS file each (what Node's
// single executable applications take), minified, with a source map beside it.
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const entries = {};
for (const dir of readdirSync('plugins', { withFileTypes: true })) {
  const main = `plugins/${dir.name}/main.ts`;
  if (dir.isDirectory() && existsSync(main)) entries[dir.name === 'vw' ? 'kubectl-vw' : `kubectl-vw-${dir.name}`] = main;
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
