import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import type { Environment } from '../../deps';
import { ExitCode, PreflightError, VwError } from '../../errors';
import type { KubeTarget } from '../../kube/config';
import { withTargetKubeconfig } from '../../kube/kubeconfig-file';
import type { HelmReleaseInfo } from '../../operator/helm-release';
import { helmReleaseName, operatorNamespace } from '../../operator/names';
import { type DryRunMode, dryResult, type ObjectResult } from '../results';
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
    message: o.keep
      ? 'kept by helm uninstall (helm.sh/resource-policy: keep)'
      : dryRun === 'server'
        ? 'helm --dry-run'
        : 'by helm uninstall',
  }));
}

/**
 * Step 5's helm uninstall, against exactly the target that was planned and confirmed: helm gets
 * a private kubeconfig of that one context (server, credentials, impersonation), never the
 * user's kubeconfig with a context name that could resolve elsewhere.
 */
export async function helmUninstall(
  helm: string,
  target: KubeTarget,
  opts: { dryRun: boolean; timeoutMs: number },
  ev: PhaseEvents,
  release?: HelmReleaseInfo,
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
  ev.log(`running: helm ${args.join(' ')} (context ${target.context}, server ${target.server})`);
  const r = await withTargetKubeconfig(target, async (kubeconfig) => {
    const proc = execa(helm, [...args, '--kubeconfig', kubeconfig, '--kube-context', target.context], {
      reject: false,
      all: true,
      stdin: 'ignore',
    });
    proc.all?.on('data', (c: Buffer) => ev.helmOutput(c.toString()));
    return await proc;
  });
  if (r.exitCode !== 0) {
    const text = String(r.all ?? '');
    if (/release: not found/i.test(text)) return; // already uninstalled: re-runs are fine
    throw new VwError(
      `helm uninstall failed (exit ${r.exitCode}): ${text.trim().split('\n').pop()}`,
      ExitCode.someFailed,
      'fix what helm reports, then re-run kubectl vw purge',
    );
  }
  for (const row of releaseRows(release, opts.dryRun ? 'server' : 'none')) ev.result(row);
}
