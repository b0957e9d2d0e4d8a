import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import yaml from 'js-yaml';
import { helmReleaseName, keepCrdsValue, operatorNamespace } from './contract';

// The stand-in chart (test/fixtures/chart/vworkspace-app-operator): its directory, the names it
// renders (read from its values.yaml, the one place they are written) and how to install it with
// the real helm. The world's stand-ins (the simulated operator, Flux, Velero, the kubelet) find
// their Deployments through these names; the product must find them through the release.

export const chartDir = fileURLToPath(new URL('../fixtures/chart/vworkspace-app-operator', import.meta.url));

interface ChartValues {
  keepCrds: boolean;
  operator: { name: string };
  bundle: Record<
    'helmController' | 'sourceController' | 'certManager' | 'externalSecrets' | 'velero',
    { name: string }
  >;
}

const values = yaml.load(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as ChartValues;
const chart = yaml.load(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as { name: string; version: string };

export const chartName = chart.name;
export const chartVersion = chart.version;
/** The operator's Deployment (and ServiceAccount) as the chart renders them. */
export const operatorDeploymentName = values.operator.name;
/** The bundled controllers' Deployments, in the release's namespace. */
export const bundleDeployments = {
  helmController: values.bundle.helmController.name,
  sourceController: values.bundle.sourceController.name,
  certManager: values.bundle.certManager.name,
  externalSecrets: values.bundle.externalSecrets.name,
  velero: values.bundle.velero.name,
};
/** Every Deployment the chart renders. */
export const chartDeployments = [operatorDeploymentName, ...Object.values(bundleDeployments)];

export interface HelmOptions {
  helmBin: string;
  /** Where helm stores the release (HELM_DRIVER): Secrets by default. */
  driver?: 'secret' | 'configmap';
  /** helm's cache, config and data go here, never to the user's own (default: a dir under tmp). */
  helmHome?: string;
}

function helmEnv(home: string | undefined) {
  const dir = home ?? join(tmpdir(), 'vw-sandbox-helm');
  mkdirSync(dir, { recursive: true });
  return {
    HELM_CACHE_HOME: join(dir, 'cache'),
    HELM_CONFIG_HOME: join(dir, 'config'),
    HELM_DATA_HOME: join(dir, 'data'),
  };
}

export async function helm(kubeconfig: string, args: string[], opts: HelmOptions): Promise<string> {
  const all = [...args, '--kubeconfig', kubeconfig];
  const env = { ...helmEnv(opts.helmHome), ...(opts.driver ? { HELM_DRIVER: opts.driver } : {}) };
  const r = await execa(opts.helmBin, all, { reject: false, stdin: 'ignore', env });
  if (r.exitCode !== 0) throw new Error(`helm ${all.join(' ')} exited ${r.exitCode}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/**
 * helm upgrade --install of the stand-in chart: the release `vworkspace-app-operator` the
 * procedure's step 5 uninstalls. The operator's CRDs, installed by the harness with helm's
 * ownership metadata, are adopted by the release.
 */
export async function installOperatorChart(
  kubeconfig: string,
  opts: HelmOptions & {
    namespace?: string;
    odooUrl?: string;
    keepCrds?: boolean;
    /** More values, as a values file (exact strings: spaces and case survive, unlike --set). */
    values?: Record<string, unknown>;
    /** Other CRDs the release renders (bundleCrds), each a manifest file. */
    bundleCrdFiles?: string[];
  },
) {
  const extra: string[] = [];
  if (opts.values) {
    const file = join(mkdtempSync(join(tmpdir(), 'vw-chart-values-')), 'values.yaml');
    writeFileSync(file, yaml.dump(opts.values));
    extra.push('-f', file);
  }
  (opts.bundleCrdFiles ?? []).forEach((f, i) => {
    extra.push('--set-file', `bundleCrds[${i}]=${f}`);
  });
  await helm(
    kubeconfig,
    [
      'upgrade',
      '--install',
      helmReleaseName,
      chartDir,
      '-n',
      opts.namespace ?? operatorNamespace,
      '--create-namespace',
      '--set',
      `${keepCrdsValue}=${opts.keepCrds ?? values.keepCrds}`,
      ...(opts.odooUrl ? ['--set', `odoo.url=${opts.odooUrl}`] : []),
      ...extra,
    ],
    opts,
  );
}

export async function uninstallOperatorChart(kubeconfig: string, opts: HelmOptions & { namespace?: string }) {
  await helm(kubeconfig, ['uninstall', helmReleaseName, '-n', opts.namespace ?? operatorNamespace, '--wait'], opts);
}
