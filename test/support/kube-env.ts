import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { fluxFinalizer } from './kinds';

// What integration tests use to reach the control plane global-setup started (or the existing
// cluster named by USE_EXISTING_CLUSTER=true and KUBECONFIG).

function required(variable: string, what: string): string {
  const value = process.env[variable];
  if (value) return value;
  if (process.env.VW_UNIT_ONLY === '1') {
    throw new Error(
      `${what}: VW_UNIT_ONLY=1 (npm run test:unit) starts no control plane; run integration tests with npm test`,
    );
  }
  throw new Error(
    `${what}: ${variable} is not set; test/support/global-setup.ts sets it when jest starts the control plane`,
  );
}

/** The admin (system:masters) kubeconfig of the test cluster. */
export const adminKubeconfig = () => required('VW_TEST_KUBECONFIG', 'no test cluster');

/**
 * The kubeconfig of CN=vw-restricted, who may read the suite's kinds and change nothing. An
 * existing cluster (USE_EXISTING_CLUSTER=true) has no such user: a test that needs one fails.
 */
export function restrictedKubeconfig(): string {
  if (process.env.USE_EXISTING_CLUSTER === 'true' && !process.env.VW_TEST_RESTRICTED_KUBECONFIG) {
    throw new Error(
      'this test needs the restricted user vw-restricted, which only the harness-started control plane has: it cannot run with USE_EXISTING_CLUSTER=true',
    );
  }
  return required('VW_TEST_RESTRICTED_KUBECONFIG', 'no restricted kubeconfig');
}

/** The tools bin dir (helm, krew, validate-krew-manifest). */
export const toolsBinDir = () => required('VW_TEST_BIN_DIR', 'no tools bin dir');

export interface KubectlResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface KubectlOptions {
  /** Defaults to the admin kubeconfig. */
  kubeconfig?: string;
  /** Written to kubectl's stdin (for `apply -f -`); objects are sent as JSON. */
  input?: string | object;
  timeoutMs?: number;
}

/** Runs the real kubectl against the test cluster; never throws on a non-zero exit. */
export async function kubectl(args: string[], opts: KubectlOptions = {}): Promise<KubectlResult> {
  const input =
    opts.input === undefined ? undefined : typeof opts.input === 'string' ? opts.input : JSON.stringify(opts.input);
  const result = await execa('kubectl', ['--kubeconfig', opts.kubeconfig ?? adminKubeconfig(), ...args], {
    reject: false,
    timeout: opts.timeoutMs ?? 60_000,
    ...(input === undefined ? { stdin: 'ignore' as const } : { input }),
  });
  if (result.exitCode === undefined) {
    // Not started, or killed by the timeout: there is no kubectl answer to hand back.
    throw new Error(`kubectl ${args.join(' ')}: ${result.message}`);
  }
  return { stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode };
}

/** Like kubectl(), but a non-zero exit throws with kubectl's stderr. Returns stdout. */
export async function kubectlOk(args: string[], opts: KubectlOptions = {}): Promise<string> {
  const r = await kubectl(args, opts);
  if (r.exitCode !== 0)
    throw new Error(`kubectl ${args.join(' ')} exited ${r.exitCode}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

export const testNamespaceLabel = 'vw-test';

/** Creates a namespace named `<prefix>-<random>` labelled vw-test=true, and returns its name. */
export async function createTestNamespace(prefix: string): Promise<string> {
  const base =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 50) || 'test';
  const name = `${base}-${randomBytes(4).toString('hex')}`;
  await kubectlOk(['create', '-f', '-'], {
    input: { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { [testNamespaceLabel]: 'true' } } },
  });
  return name;
}

/**
 * Lets go of Flux's finalizer on a namespace's HelmReleases, as Flux would. A test usually stops
 * its simulated world (and with it the Flux stand-in) before deleting its namespaces; without
 * this, the namespace would stay Terminating for ever, an artefact of the harness, not of the
 * product. (A cluster without the HelmRelease CRD has nothing to let go.)
 */
export async function releaseFluxFinalizers(namespace: string): Promise<number> {
  const r = await kubectl(['get', 'helmreleases.helm.toolkit.fluxcd.io', '-n', namespace, '-o', 'json']);
  if (r.exitCode !== 0) return 0;
  const items = (JSON.parse(r.stdout) as { items: { metadata: { name: string; finalizers?: string[] } }[] }).items;
  let released = 0;
  for (const hr of items) {
    const finalizers = hr.metadata.finalizers ?? [];
    if (!finalizers.includes(fluxFinalizer)) continue;
    const rest = finalizers.filter((f) => f !== fluxFinalizer);
    const patched = await kubectl([
      'patch',
      'helmreleases.helm.toolkit.fluxcd.io',
      hr.metadata.name,
      '-n',
      namespace,
      '--type=merge',
      '-p',
      JSON.stringify({ metadata: { finalizers: rest.length ? rest : null } }),
    ]);
    if (patched.exitCode === 0) released++;
  }
  return released;
}

/**
 * Deletes a namespace (gone already is fine), first letting go of the Flux finalizers its
 * HelmReleases carry (see releaseFluxFinalizers). By default it does not wait for the namespace
 * controller to empty it; `wait: true` does, up to the timeout.
 */
export async function deleteNamespace(name: string, opts: { wait?: boolean; timeoutMs?: number } = {}): Promise<void> {
  const timeout = opts.timeoutMs ?? 60_000;
  await releaseFluxFinalizers(name);
  await kubectlOk(
    ['delete', 'namespace', name, '--ignore-not-found', `--wait=${opts.wait === true}`, `--timeout=${timeout / 1000}s`],
    {
      timeoutMs: timeout + 10_000,
    },
  );
}
