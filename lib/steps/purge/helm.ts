import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import type { Environment } from '../../deps';
import { ExitCode, PreflightError, VwError } from '../../errors';
import type { KubeClient } from '../../kube/client';
import type { KubeTarget } from '../../kube/config';
import { withTargetKubeconfig } from '../../kube/kubeconfig-file';
import { proxyVarsFor } from '../../kube/proxy';
import { type HelmDriver, type HelmReleaseInfo, keptWhy, readHelmReleaseHead } from '../../operator/helm-release';
import { helmReleaseName, operatorNamespace } from '../../operator/names';
import { type DryRunMode, dryResult, type ObjectResult } from '../results';
import { releaseObjectsPresent } from './observe-release';
import type { PhaseEvents } from './phases';

/** Finds helm: --helm, else PATH; a clear error when there is none. */
export function findHelm(env: Environment, explicit?: string): string {
  if (explicit) {
    if (!existsSync(explicit))
      throw new PreflightError(`helm binary not found at ${explicit}`, 'pass the path of a helm 3 binary to --helm');
    return explicit;
  }
  for (const dir of (env.vars.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, env.platform === 'win32' ? 'helm.exe' : 'helm');
    if (dir && existsSync(candidate)) return candidate;
  }
  throw new PreflightError(
    'helm binary not found on PATH: step 5 runs helm uninstall',
    'install helm 3, or pass --helm /path/to/helm',
  );
}

/** A row per object of the release: what helm uninstall deletes, and what it keeps. */
export function releaseRows(release: HelmReleaseInfo | undefined, dryRun: DryRunMode): ObjectResult[] {
  return (release?.objects ?? []).map((o) => ({
    kind: o.kind,
    name: o.name,
    namespace: o.namespace,
    action: o.keep ? 'keep' : 'delete',
    result: o.keep ? 'unchanged' : dryResult(dryRun),
    message: o.keep ? keptWhy(o) : dryRun === 'server' ? 'helm --dry-run' : 'by helm uninstall',
  }));
}

/**
 * What of the user's environment helm may see: where it runs from (PATH, HOME, temp) and its own
 * cache, config and data directories. Nothing that names a target: helm reads HELM_KUBEAPISERVER,
 * HELM_KUBETOKEN, HELM_KUBEAS*, HELM_KUBECAFILE, HELM_NAMESPACE and KUBECONFIG itself, and they
 * would override the kubeconfig and context it is given.
 */
const helmMayRead = [
  'PATH',
  'HOME',
  'TMPDIR',
  'TMP',
  'TEMP',
  'HELM_CACHE_HOME',
  'HELM_CONFIG_HOME',
  'HELM_DATA_HOME',
  'XDG_CACHE_HOME',
  'XDG_CONFIG_HOME',
  'XDG_DATA_HOME',
  // Windows: where a user's profile and temp live.
  'SystemRoot',
  'USERPROFILE',
  'APPDATA',
  'LOCALAPPDATA',
];

/**
 * The environment helm runs with, built rather than inherited: the harmless variables above, the
 * storage driver the plan read the release from (HELM_DRIVER), and the proxy this run resolved.
 */
export function helmEnvironment(env: Environment, target: KubeTarget, driver: HelmDriver): Record<string, string> {
  const built: Record<string, string> = {};
  for (const name of helmMayRead) {
    const v = env.vars[name];
    if (v) built[name] = v;
  }
  return { ...built, HELM_DRIVER: driver, ...proxyVarsFor(target.proxy, target.proxyFromKubeconfig) };
}

export interface HelmUninstallOptions {
  dryRun: boolean;
  timeoutMs: number;
  /** Aborts helm (the lock lost, Ctrl-C): it is killed, and what it did is read from the cluster. */
  signal: AbortSignal;
}

/** Runs helm uninstall against exactly the target: a private kubeconfig of that one context, and a built environment. */
async function runHelm(
  helm: string,
  env: Environment,
  target: KubeTarget,
  release: HelmReleaseInfo,
  opts: HelmUninstallOptions,
  ev: PhaseEvents,
) {
  const args = [
    'uninstall',
    helmReleaseName,
    '-n',
    operatorNamespace,
    '--wait',
    '--timeout',
    `${Math.ceil(opts.timeoutMs / 1000)}s`,
  ];
  if (opts.dryRun) args.push('--dry-run');
  ev.log(
    `running: helm ${args.join(' ')} (context ${target.context}, server ${target.server}, HELM_DRIVER=${release.driver})`,
  );
  return withTargetKubeconfig(target, async (kubeconfig) => {
    const proc = execa(helm, [...args, '--kubeconfig', kubeconfig, '--kube-context', target.context], {
      reject: false,
      all: true,
      stdin: 'ignore',
      env: helmEnvironment(env, target, release.driver),
      extendEnv: false,
      cancelSignal: opts.signal,
    });
    proc.all?.on('data', (c: Buffer) => ev.helmOutput(c.toString()));
    return await proc;
  });
}

/**
 * Step 5's helm uninstall of the release the plan read (and the gate read again), then the
 * release and its objects read back: each row says what is there now, never what the plan
 * expected. helm's "release: not found" is no success while the release is still there.
 */
export async function helmUninstall(
  helm: string,
  env: Environment,
  client: KubeClient,
  target: KubeTarget,
  release: HelmReleaseInfo,
  opts: HelmUninstallOptions,
  ev: PhaseEvents,
) {
  const r = await runHelm(helm, env, target, release, opts, ev);
  if (opts.dryRun) {
    if (r.exitCode !== 0) throw helmFailed(r.exitCode, String(r.all ?? ''));
    for (const row of releaseRows(release, 'server')) ev.result(row);
    return;
  }
  const after = await readHelmReleaseHead(client, release.namespace, release.name);
  for (const row of await releaseObjectsPresent(client, release)) ev.result(row);
  if (r.isCanceled) return; // the caller says why (the lock lost, Ctrl-C), after these rows
  if (after)
    throw new VwError(
      `helm uninstall ${r.exitCode === 0 ? 'exited 0' : `failed (exit ${r.exitCode})`}, but release ${release.name} v${after.version} is still there (${after.status}, in ${after.driver}s): ${lastLine(String(r.all ?? ''))}`,
      ExitCode.someFailed,
      'fix what helm reports, then re-run kubectl vw purge',
    );
  if (r.exitCode !== 0 && !/release: not found/i.test(String(r.all ?? '')))
    throw helmFailed(r.exitCode, String(r.all ?? ''));
}

const lastLine = (text: string) => text.trim().split('\n').pop() ?? '';
const helmFailed = (code: number | undefined, text: string) =>
  new VwError(
    `helm uninstall failed (exit ${code}): ${lastLine(text)}`,
    ExitCode.someFailed,
    'fix what helm reports, then re-run kubectl vw purge',
  );
