import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { apiVersionOf, defaultStorageLocation, veleroNamespace as contractVeleroNamespace } from './contract';
import { freePorts } from './control-plane/ports';
import { type Daemon, logTail, startDaemon, stopDaemon } from './control-plane/processes';
import { waitUntilReady } from './control-plane/readiness';
import { isAlreadyExists, Kube, type KubeObject } from './kube';
import { core, upstream } from './kinds';

// The real Velero of the test world, run out of cluster as Velero's "Run Velero locally in
// development" describes: `velero server` (built by scripts/build-tools.sh, with the AWS plugin
// in its --plugin-dir) against the test control plane, writing to an S3-compatible object store
// (test/support/object-store/main.go on gofakes3) through a real BackupStorageLocation and the
// credentials Secret an installation has. Beside it runs the real CSI snapshot-controller
// (external-snapshotter), which turns Velero's VolumeSnapshots into VolumeSnapshotContents; the
// storage driver that would take the snapshots is the simulator's part (sim-operator/csi-driver).

export const veleroCredentialsSecret = 'cloud-credentials';
export const veleroCredentialsKey = 'cloud';
export const defaultBucket = 'vworkspace-backups';
export const defaultPrefix = 'velero';
/** The store accepts any keys: these are what the Secret holds, as an installation's would. */
const credentials = '[default]\naws_access_key_id = vw-test\naws_secret_access_key = vw-test-secret\n';

/** ok; deny-writes: every write fails (503), as a store that breaks mid-backup; deny-all: 403 on everything. */
export type StoreMode = 'ok' | 'deny-writes' | 'deny-all';

export interface ObjectStore {
  url: string;
  bucket: string;
  setMode(mode: StoreMode): Promise<void>;
  /** Every key under the prefix (ListObjectsV2, path style; the store checks no signature). */
  keys(prefix: string): Promise<string[]>;
  /** One object's bytes. */
  get(key: string): Promise<Buffer>;
  remove(key: string): Promise<void>;
  stop(): Promise<void>;
}

async function storeRequest(url: string, init?: RequestInit): Promise<string> {
  const res = await fetch(url, init);
  const body = await res.text();
  if (!res.ok)
    throw new Error(`object store ${init?.method ?? 'GET'} ${url}: HTTP ${res.status} ${body.slice(0, 200)}`);
  return body;
}

export async function startObjectStore(binDir: string, dir: string, bucket = defaultBucket): Promise<ObjectStore> {
  const [port] = (await freePorts(1)) as [number];
  const url = `http://127.0.0.1:${port}`;
  const daemon = startDaemon(
    'vw-object-store',
    join(binDir, 'vw-object-store'),
    ['-addr', `127.0.0.1:${port}`, '-bucket', bucket],
    join(dir, 'object-store.log'),
    { PATH: process.env.PATH },
  );
  await waitUntilReady(daemon, { url: `${url}/-/mode` }, 20_000);
  return {
    url,
    bucket,
    setMode: async (mode) => {
      await storeRequest(`${url}/-/mode?to=${mode}`, { method: 'POST' });
    },
    keys: async (prefix) => {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const q = new URLSearchParams({ 'list-type': '2', prefix, ...(token ? { 'continuation-token': token } : {}) });
        const xml = await storeRequest(`${url}/${bucket}?${q}`);
        for (const m of xml.matchAll(/<Key>([^<]*)<\/Key>/g)) keys.push(m[1] as string);
        token = /<IsTruncated>true<\/IsTruncated>/.test(xml)
          ? /<NextContinuationToken>([^<]*)</.exec(xml)?.[1]
          : undefined;
      } while (token);
      return keys;
    },
    get: async (key) => {
      const res = await fetch(`${url}/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`);
      if (!res.ok) throw new Error(`object store GET ${key}: HTTP ${res.status}`);
      return Buffer.from(await res.arrayBuffer());
    },
    remove: async (key) => {
      await storeRequest(`${url}/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`, { method: 'DELETE' });
    },
    stop: () => stopDaemon(daemon),
  };
}

export interface RealVeleroOptions {
  kubeconfig: string;
  /** The tools bin dir: velero, velero-plugins/, vw-object-store, snapshot-controller. */
  binDir: string;
  /** A directory of its own (logs, the server's TMPDIR and HOME). */
  dir: string;
  namespace?: string;
  location?: string;
  bucket?: string;
  /** --garbage-collection-frequency (Velero's default: 1h). */
  gcFrequency?: string;
  /** --backup-sync-period (Velero's default: 1m). */
  backupSyncPeriod?: string;
  /** The location's spec.validationFrequency (Velero's default: 1m). Default here: 5s. */
  validationFrequency?: string;
  /** --item-operation-sync-frequency: how often Velero polls snapshot operations (default 10s; here 1s). */
  itemOperationSyncFrequency?: string;
  /** --concurrent-backups (Velero's default: 1). */
  concurrentBackups?: number;
  /** Run the CSI snapshot-controller beside Velero (default true). */
  snapshotController?: boolean;
  log?: (line: string) => void;
}

export interface RealVelero {
  namespace: string;
  location: string;
  store: ObjectStore;
  /** The velero CLI, bound to this world (its kubeconfig, namespace, an empty HOME). */
  cli(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  /** velero server's log file. */
  logFile: string;
  /** velero server's process id, while it runs. */
  readonly pid: number | undefined;
  /** Whether velero server runs. */
  readonly running: boolean;
  /** Stops velero server alone (the store and the snapshot-controller go on). */
  stopServer(): Promise<void>;
  /** Starts it again (a start lists every Backup, so garbage collection looks at each at once). */
  startServer(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Velero's plugin processes (`velero run-plugins`, velero-plugin-for-aws) are its children, started
 * with its arguments: a server killed before it stops them (SIGKILL after the grace time, on a
 * loaded machine) leaves them running, so they are found by this world's kubeconfig and ended.
 */
function stopPlugins(kubeconfig: string, binDir: string) {
  if (!existsSync('/proc')) return;
  const mark = `--kubeconfig=${kubeconfig}`;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone meanwhile
    }
    const [exe = '', first] = argv;
    const plugin = first === 'run-plugins' || exe.startsWith(join(binDir, 'velero-plugins'));
    if (plugin && exe.startsWith(binDir) && argv.includes(mark)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/**
 * The Secret and the BackupStorageLocation an installation of Velero on AWS has (`velero install
 * --provider aws --secret-file`), pointed at the store.
 */
export async function ensureVeleroInstall(
  kube: Kube,
  o: { namespace: string; location: string; store: ObjectStore; validationFrequency: string },
): Promise<void> {
  const create = async (r: Parameters<Kube['create']>[0], obj: KubeObject) => {
    try {
      await kube.create(r, obj, obj.metadata.namespace);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  };
  await create(core.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: o.namespace } });
  await create(core.secrets, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: veleroCredentialsSecret, namespace: o.namespace, labels: { component: 'velero' } },
    type: 'Opaque',
    stringData: { [veleroCredentialsKey]: credentials },
  } as KubeObject);
  const spec = {
    provider: 'aws',
    default: o.location === defaultStorageLocation,
    objectStorage: { bucket: o.store.bucket, prefix: defaultPrefix },
    config: { region: 'us-east-1', s3ForcePathStyle: 'true', s3Url: o.store.url },
    validationFrequency: o.validationFrequency,
  };
  await create(upstream.backupStorageLocations, {
    apiVersion: apiVersionOf(upstream.backupStorageLocations),
    kind: upstream.backupStorageLocations.kind,
    metadata: { name: o.location, namespace: o.namespace },
    spec,
  } as KubeObject);
  // An existing one (a restarted world) is pointed at this run's store.
  await kube.mergePatch(upstream.backupStorageLocations, o.location, o.namespace, { spec });
}

async function untilLocationAvailable(kube: Kube, namespace: string, name: string, daemon: Daemon, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let phase: string | undefined;
  while (Date.now() < deadline) {
    if (daemon.exited !== undefined)
      throw new Error(`velero server exited (${daemon.exited}). Last lines of ${daemon.logFile}:\n${logTail(daemon)}`);
    const bsl = await kube.find(upstream.backupStorageLocations, name, namespace);
    phase = (bsl?.status as { phase?: string } | undefined)?.phase;
    if (phase === 'Available') return;
    await sleep(250);
  }
  throw new Error(
    `BackupStorageLocation ${namespace}/${name} not Available after ${timeoutMs / 1000}s (phase ${phase ?? 'none'}). Last lines of ${daemon.logFile}:\n${logTail(daemon)}`,
  );
}

/** The object store, the install's objects, velero server and the snapshot-controller. */
export async function startRealVelero(o: RealVeleroOptions): Promise<RealVelero> {
  const namespace = o.namespace ?? contractVeleroNamespace;
  const location = o.location ?? defaultStorageLocation;
  const log = o.log ?? (() => {});
  await mkdir(join(o.dir, 'tmp'), { recursive: true });
  const stack: (() => Promise<void>)[] = [];
  const kube = Kube.fromFile(o.kubeconfig, { userAgent: 'vworkspace-sandbox/v0.1.0' });
  stack.push(async () => kube.close());
  const stopAll = async () => {
    for (const fn of stack.splice(0).reverse()) await fn().catch(() => undefined);
  };
  try {
    const store = await startObjectStore(o.binDir, o.dir, o.bucket);
    stack.push(() => store.stop());
    log(`object store at ${store.url} (bucket ${store.bucket})`);
    await ensureVeleroInstall(kube, { namespace, location, store, validationFrequency: o.validationFrequency ?? '5s' });

    // The Secret as `velero install` mounts it into the server's pod, at the path its
    // AWS_SHARED_CREDENTIALS_FILE names. Not as the location's spec.credential: Velero then
    // rewrites that file (truncate, write) at every use of the location, and a plugin reading it
    // meanwhile finds no keys (seen here as "no EC2 IMDS role found" on concurrent backups).
    const credentialsFile = join(o.dir, 'cloud-credentials');
    await writeFile(credentialsFile, credentials, { mode: 0o600 });
    // Only what velero needs: no KUBECONFIG or AWS_* of the developer's; its temp files in this world's dir.
    const env = {
      PATH: process.env.PATH,
      HOME: o.dir,
      TMPDIR: join(o.dir, 'tmp'),
      AWS_SHARED_CREDENTIALS_FILE: credentialsFile,
    };
    const veleroBin = join(o.binDir, 'velero');
    let server: Daemon | undefined;
    const startServer = async () => {
      const [metricsPort] = (await freePorts(1)) as [number];
      const args = [
        'server',
        `--kubeconfig=${o.kubeconfig}`,
        `--namespace=${namespace}`,
        `--plugin-dir=${join(o.binDir, 'velero-plugins')}`,
        '--features=EnableCSI',
        `--metrics-address=127.0.0.1:${metricsPort}`,
        '--profiler-address=',
        `--item-operation-sync-frequency=${o.itemOperationSyncFrequency ?? '1s'}`,
        ...(o.gcFrequency ? [`--garbage-collection-frequency=${o.gcFrequency}`] : []),
        ...(o.backupSyncPeriod ? [`--backup-sync-period=${o.backupSyncPeriod}`] : []),
        ...(o.concurrentBackups ? [`--concurrent-backups=${o.concurrentBackups}`] : []),
      ];
      const daemon = startDaemon('velero', veleroBin, args, join(o.dir, 'velero.log'), env);
      server = daemon;
      await waitUntilReady(daemon, { url: `http://127.0.0.1:${metricsPort}/metrics` }, 60_000);
      await untilLocationAvailable(kube, namespace, location, daemon);
      log(`velero server running (namespace ${namespace}, location ${location})`);
    };
    const stopServer = async () => {
      if (server) await stopDaemon(server, 10_000);
      server = undefined;
      stopPlugins(o.kubeconfig, o.binDir);
    };
    stack.push(stopServer);
    await startServer();

    if (o.snapshotController ?? true) {
      const sc = startDaemon(
        'snapshot-controller',
        join(o.binDir, 'snapshot-controller'),
        [`--kubeconfig=${o.kubeconfig}`, '--leader-election=false', '--v=2'],
        join(o.dir, 'snapshot-controller.log'),
        { PATH: process.env.PATH, HOME: o.dir },
      );
      stack.push(() => stopDaemon(sc));
      // It serves nothing to probe: alive after a moment is what there is to know.
      await sleep(300);
      if (sc.exited !== undefined)
        throw new Error(`snapshot-controller exited (${sc.exited}). Last lines of ${sc.logFile}:\n${logTail(sc)}`);
    }

    return {
      namespace,
      location,
      store,
      logFile: join(o.dir, 'velero.log'),
      get running() {
        return server !== undefined && server.exited === undefined;
      },
      get pid() {
        return server?.exited === undefined ? server?.child.pid : undefined;
      },
      cli: async (args) => {
        const r = await execa(veleroBin, [...args, `--kubeconfig=${o.kubeconfig}`, `--namespace=${namespace}`], {
          env,
          extendEnv: false,
          reject: false,
          stdin: 'ignore',
        });
        return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr) };
      },
      stopServer,
      startServer,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
