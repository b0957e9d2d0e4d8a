import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const buildScript = join(repoRoot, 'scripts', 'build-tools.sh');
export const toolsDir = () => process.env.VW_TOOLS_DIR || join(homedir(), '.cache', 'kubectl-vw', 'tools');

export interface Binaries {
  binDir: string;
  etcd: string;
  kubeApiserver: string;
  /** Absent only when KUBEBUILDER_ASSETS lacks it: namespace deletion and GC then never finish. */
  kubeControllerManager?: string;
}

/**
 * Runs scripts/build-tools.sh with the given targets. It builds what is missing (many minutes the
 * first time), reports progress on stderr, which is passed to `log` line by line, and prints the
 * bin dir on its last stdout line.
 */
export async function runBuildTools(targets: string[], log: (s: string) => void): Promise<string> {
  return (await buildTools(targets, log)).binDir;
}

/** The build script's run: the bin dir (its last stdout line) and the other lines it printed. */
async function buildTools(targets: string[], log: (s: string) => void): Promise<{ binDir: string; lines: string[] }> {
  const proc = execa(buildScript, targets, { cwd: repoRoot, reject: false, stdin: 'ignore', all: false });
  let pending = '';
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) log(line);
  });
  const result = await proc;
  if (pending.trim()) log(pending);
  if (result.failed) {
    const why =
      result.exitCode === undefined ? result.message : `exit ${result.exitCode}; see the [build-tools] lines above`;
    throw new Error(`${buildScript} ${targets.join(' ')} failed (${why})`);
  }
  const lines = String(result.stdout).trim().split('\n');
  const binDir = lines.pop()?.trim();
  if (!binDir || !existsSync(binDir))
    throw new Error(`${buildScript} did not print its bin dir (stdout: ${String(result.stdout)})`);
  return { binDir, lines };
}

/**
 * envtest's convention: KUBEBUILDER_ASSETS names a directory holding etcd and kube-apiserver (and
 * here, optionally, kube-controller-manager and the real Velero's binaries). Without it, the
 * tools are built into the cache (`targets`: the build script's, default all).
 */
export async function findBinaries(log: (s: string) => void, targets: string[] = []): Promise<Binaries> {
  const assets = process.env.KUBEBUILDER_ASSETS;
  const binDir = assets || (await runBuildTools(targets, log));
  const need = (name: string) => {
    const path = join(binDir, name);
    if (!existsSync(path)) {
      throw new Error(`${name} not found in ${binDir}${assets ? ' (KUBEBUILDER_ASSETS)' : ''}`);
    }
    return path;
  };
  const kcm = join(binDir, 'kube-controller-manager');
  if (!existsSync(kcm))
    log(
      `warning: no kube-controller-manager in ${binDir}: deleted namespaces will stay Terminating and owner references will not cascade`,
    );
  return {
    binDir,
    etcd: need('etcd'),
    kubeApiserver: need('kube-apiserver'),
    ...(existsSync(kcm) ? { kubeControllerManager: kcm } : {}),
  };
}

/**
 * The upstream CRDs (Flux, Velero, CSI snapshots) that `build-tools.sh crds` copies from their Go
 * modules. Always asked for: the script returns at once when its version stamp matches.
 */
export async function upstreamCrdsDir(log: (s: string) => void): Promise<string> {
  const { lines } = await buildTools(['crds'], log);
  const dir = lines.find((l) => l.startsWith('crds: '))?.slice('crds: '.length) ?? join(toolsDir(), 'crds');
  if (!existsSync(dir) || !readdirSync(dir).some((f) => f.endsWith('.yaml'))) {
    throw new Error(`no upstream CRDs in ${dir} after scripts/build-tools.sh crds`);
  }
  return dir;
}

export const operatorCrdsDir = join(repoRoot, 'crds', 'operator');
