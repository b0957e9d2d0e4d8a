import { cp as copy, mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { type Binaries, findBinaries, operatorCrdsDir, runBuildTools, upstreamCrdsDir } from './control-plane/binaries';
import { generatePki, type Pki, pkiAt } from './control-plane/certs';
import { installCrds, installReadonlyRbac, restrictedUser } from './control-plane/install';
import { writeKubeconfig } from './control-plane/kubeconfig';
import { freePorts } from './control-plane/ports';
import { type Daemon, removeTempDir, startDaemon, stopDaemon, trackTempDir } from './control-plane/processes';
import { waitUntilReady } from './control-plane/readiness';

// A real etcd, kube-apiserver and kube-controller-manager on loopback for the integration tests,
// the way controller-runtime's envtest runs them (shared/notes/testenv.md). Honours envtest's
// KUBEBUILDER_ASSETS and USE_EXISTING_CLUSTER=true (+ KUBECONFIG). VW_TEST_KEEP_DIR=1 keeps the
// temp dir (logs/, kubeconfigs) after stop() for a look afterwards.

export interface ControlPlane {
  server: string;
  adminKubeconfig: string;
  /** CN=vw-restricted, read-only RBAC. Undefined against an existing cluster. */
  restrictedKubeconfig?: string;
  /** The run's temp dir: PKI, kubeconfigs, logs/, etcd data, kubectl's discovery cache. */
  dir: string;
  /** The tools bin dir (helm, krew, validate-krew-manifest when built). */
  binDir: string;
  /** The CRDs installed, by name. */
  crds: string[];
  /** Sends a signal to one of its processes (SIGSTOP freezes the API server, SIGCONT thaws it). */
  signal(name: 'etcd' | 'kube-apiserver' | 'kube-controller-manager', signal: NodeJS.Signals): void;
  stop(): Promise<void>;
  /**
   * Stops its processes and keeps its directory as a snapshot: `startControlPlane({ from })` then
   * starts copies of this cluster, as it stood, in a second or two less than a new one (no CRDs to
   * install, nothing to seed). Returns the directory (the caller removes it).
   */
  snapshot(): Promise<string>;
}

export interface StartOptions {
  log?: (s: string) => void;
  /** What scripts/build-tools.sh builds when a binary is missing (default: everything; `demo`: what the sandbox needs). */
  buildTargets?: string[];
  /** A snapshot (ControlPlane.snapshot()): a copy of its cluster is started, on ports of its own. */
  from?: string;
}

export const adminContext = 'vw-test-admin';
export const restrictedContext = 'vw-test-restricted';

export async function startControlPlane(opts: StartOptions = {}): Promise<ControlPlane> {
  const log = opts.log ?? (() => {});
  if (process.env.USE_EXISTING_CLUSTER === 'true') return useExistingCluster(log);

  const started = Date.now();
  const bins = await findBinaries(log, opts.buildTargets);
  const dir = await mkdtemp(join(tmpdir(), 'vw-control-plane-'));
  trackTempDir(dir);
  const daemons: Daemon[] = [];
  const stopDaemons = async () => {
    // Reverse order: the controller manager and apiserver before the etcd they depend on.
    for (const d of [...daemons].reverse()) await stopDaemon(d);
  };
  try {
    const cp = await bringUp(bins, dir, daemons, log, opts.from);
    log(`control plane ready at ${cp.server} in ${((Date.now() - started) / 1000).toFixed(1)}s (dir ${dir})`);
    const stop = async () => {
      await stopDaemons();
      if (process.env.VW_TEST_KEEP_DIR !== '1') removeTempDir(dir);
    };
    const snapshot = async () => {
      await stopDaemons();
      removeTempDir(dir, ['pki', 'etcd']);
      trackTempDir(dir);
      return dir;
    };
    const signal: ControlPlane['signal'] = (name, sig) => {
      const d = daemons.find((x) => x.name === name);
      if (!d?.child.pid || d.exited) throw new Error(`${name} is not running`);
      process.kill(d.child.pid, sig);
    };
    return { ...cp, signal, stop, snapshot };
  } catch (err) {
    await stopDaemons();
    // The logs the error points to stay for a post-mortem; the rest (etcd data, keys) goes.
    removeTempDir(dir, ['logs']);
    throw err;
  }
}

/** A new PKI, or a snapshot's (its etcd data copied too, so its cluster starts as it stood). */
async function pkiFor(dir: string, from: string | undefined): Promise<Pki> {
  if (!from) return generatePki(join(dir, 'pki'));
  await Promise.all(['pki', 'etcd'].map((d) => copy(join(from, d), join(dir, d), { recursive: true })));
  return pkiAt(join(dir, 'pki'));
}

async function bringUp(
  bins: Binaries,
  dir: string,
  daemons: Daemon[],
  log: (s: string) => void,
  from?: string,
): Promise<Omit<ControlPlane, 'stop' | 'signal' | 'snapshot'>> {
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const [pki, [etcdPort, etcdPeerPort, apiPort, kcmPort], crdsDir] = await Promise.all([
    pkiFor(dir, from),
    freePorts(4) as Promise<[number, number, number, number]>,
    from ? '' : upstreamCrdsDir(log),
  ]);
  const server = `https://127.0.0.1:${apiPort}`;
  const adminKubeconfig = join(dir, 'admin.kubeconfig');
  const restrictedKubeconfig = join(dir, 'restricted.kubeconfig');
  await Promise.all([
    writeKubeconfig(adminKubeconfig, {
      server,
      ca: pki.ca.cert,
      user: 'vw-test-admin',
      client: pki.admin,
      context: adminContext,
    }),
    writeKubeconfig(restrictedKubeconfig, {
      server,
      ca: pki.ca.cert,
      user: restrictedUser,
      client: pki.restricted,
      context: restrictedContext,
    }),
  ]);

  log(`starting etcd on 127.0.0.1:${etcdPort}`);
  const etcd = startDaemon(
    'etcd',
    bins.etcd,
    etcdArgs(join(dir, 'etcd'), etcdPort, etcdPeerPort),
    join(logs, 'etcd.log'),
  );
  daemons.push(etcd);
  await waitUntilReady(etcd, { url: `http://127.0.0.1:${etcdPort}/health` });

  log(`starting kube-apiserver on ${server}`);
  const apiserver = startDaemon(
    'kube-apiserver',
    bins.kubeApiserver,
    apiserverArgs(dir, pki, apiPort, etcdPort),
    join(logs, 'kube-apiserver.log'),
  );
  daemons.push(apiserver);
  await waitUntilReady(apiserver, { url: `${server}/readyz`, ca: pki.ca.cert, client: pki.admin }, 90_000);

  if (bins.kubeControllerManager) {
    const kcm = startDaemon(
      'kube-controller-manager',
      bins.kubeControllerManager,
      controllerManagerArgs(dir, pki, adminKubeconfig, kcmPort),
      join(logs, 'kube-controller-manager.log'),
    );
    daemons.push(kcm);
    await waitUntilReady(kcm, { url: `https://127.0.0.1:${kcmPort}/healthz`, insecure: true });
  }

  const run = { kubeconfig: adminKubeconfig, cacheDir: join(dir, 'kubectl-cache') };
  // A snapshot's cluster has its RBAC and CRDs already (the list of their names is not kept).
  const [, crds] = from
    ? [undefined, []]
    : await Promise.all([installReadonlyRbac(run), installCrds(run, [crdsDir], [operatorCrdsDir])]);
  return { server, adminKubeconfig, restrictedKubeconfig, dir, binDir: bins.binDir, crds };
}

function etcdArgs(dataDir: string, port: number, peerPort: number): string[] {
  const client = `http://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  return [
    '--name=vw-test',
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=vw-test=${peer}`,
    // Throwaway data: durability buys nothing and fsync costs seconds on slow disks.
    '--unsafe-no-fsync=true',
    '--log-level=warn',
  ];
}

function apiserverArgs(dir: string, pki: Pki, port: number, etcdPort: number): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${port}`,
    `--cert-dir=${join(dir, 'apiserver')}`,
    `--tls-cert-file=${pki.serving.cert}`,
    `--tls-private-key-file=${pki.serving.key}`,
    `--client-ca-file=${pki.ca.cert}`,
    '--authorization-mode=RBAC',
    '--service-cluster-ip-range=10.0.0.0/24',
    '--service-account-issuer=https://kubernetes.default.svc',
    `--service-account-key-file=${pki.serviceAccount.publicKey}`,
    `--service-account-signing-key-file=${pki.serviceAccount.privateKey}`,
    '--allow-privileged=true',
  ];
}

function controllerManagerArgs(dir: string, pki: Pki, kubeconfig: string, port: number): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    // The test apiserver has no front-proxy CA for the controller manager to look up.
    '--authentication-skip-lookup=true',
    '--leader-elect=false',
    // namespace: a deleted namespace is emptied and goes; garbagecollector: ownerReference
    // cascades; serviceaccount(-token): the default ServiceAccount pods need to be admitted.
    '--controllers=namespace,garbagecollector,serviceaccount,serviceaccount-token',
    `--service-account-private-key-file=${pki.serviceAccount.privateKey}`,
    `--root-ca-file=${pki.ca.cert}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    `--cert-dir=${join(dir, 'kube-controller-manager')}`,
  ];
}

/**
 * USE_EXISTING_CLUSTER=true: KUBECONFIG is the admin; nothing is started and there is no
 * restricted user (tests that need one fail, saying so). CRDs are still installed.
 */
async function useExistingCluster(log: (s: string) => void): Promise<ControlPlane> {
  const kubeconfig = process.env.KUBECONFIG;
  if (!kubeconfig)
    throw new Error('USE_EXISTING_CLUSTER=true needs KUBECONFIG set to an admin kubeconfig of the cluster to use');
  const dir = await mkdtemp(join(tmpdir(), 'vw-existing-cluster-'));
  trackTempDir(dir);
  try {
    const run = { kubeconfig, cacheDir: join(dir, 'kubectl-cache') };
    const view = await execa('kubectl', [
      '--kubeconfig',
      kubeconfig,
      'config',
      'view',
      '--minify',
      '-o',
      'jsonpath={.clusters[0].cluster.server}',
    ]);
    const server = view.stdout.trim();
    log(`using the existing cluster at ${server} (USE_EXISTING_CLUSTER=true)`);
    const binDir = process.env.KUBEBUILDER_ASSETS || (await runBuildTools(['helm', 'krew'], log));
    const crds = await installCrds(run, [await upstreamCrdsDir(log)], [operatorCrdsDir]);
    const signal = () => {
      throw new Error('an existing cluster: its processes are not ours to signal');
    };
    const snapshot = () => Promise.reject(new Error('an existing cluster cannot be snapshotted'));
    return {
      server,
      adminKubeconfig: kubeconfig,
      dir,
      binDir,
      crds,
      signal,
      snapshot,
      stop: async () => removeTempDir(dir),
    };
  } catch (err) {
    removeTempDir(dir);
    throw err;
  }
}
