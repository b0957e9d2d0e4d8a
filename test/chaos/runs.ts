import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type FaultProxy, type FaultRule, type ProxiedRequest, startFaultProxy } from '../support/fault-proxy';

// Each kubectl vw run as a user starts it: `kubectl vw ...` with the built plugins on PATH, through
// a fault proxy of its own, so that every write it (and the helm it starts) makes is on its record.

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const distBin = process.env.VW_DIST_BIN || join(repoRoot, 'dist', 'bin');

export interface Run {
  id: number;
  label: string;
  args: string[];
  proxy: FaultProxy;
  /** The kubeconfig it was given: the proxy's context (current) and `elsewhere`, the decoy cluster. */
  kubeconfig: string;
  /** Variables added to its environment (a fault of meaning), beside the campaign's own. */
  env: Record<string, string>;
  startedAt: number;
  /** When its process exited (before its output was all read: `endedAt`). */
  exitedAt?: number;
  endedAt?: number;
  exitCode?: number | null;
  signal?: NodeJS.Signals | null;
  /** The signal chaos sent it, if any, and when. */
  killedWith?: NodeJS.Signals;
  killedAt?: number;
  stdout: string;
  stderr: string;
  /** stderr as it came, each piece with the time it came. */
  stderrAt: { at: number; text: string }[];
  done: Promise<Run>;
  child: ChildProcess;
}

let nextId = 1;

export interface RunOptions {
  adminKubeconfig: string;
  rules: FaultRule[];
  /** The decoy cluster's URL: the kubeconfig's second context, `elsewhere`. */
  elsewhere: string;
  env?: Record<string, string>;
}

/** The run's own kubeconfig: its proxy as the current context, and another cluster beside it. */
async function writeRunKubeconfig(path: string, proxyUrl: string, elsewhere: string) {
  const cluster = (name: string, server: string) =>
    `- name: ${name}\n  cluster:\n    server: ${server}\n    insecure-skip-tls-verify: true\n`;
  const context = (name: string) => `- name: ${name}\n  context: {cluster: ${name}, user: ${name}}\n`;
  await writeFile(
    path,
    `apiVersion: v1\nkind: Config\nclusters:\n${cluster('fault-proxy', proxyUrl)}${cluster('elsewhere', elsewhere)}` +
      `users:\n- name: fault-proxy\n  user: {}\n- name: elsewhere\n  user: {token: a-token-for-another-cluster}\n` +
      `contexts:\n${context('fault-proxy')}${context('elsewhere')}current-context: fault-proxy\n`,
    { mode: 0o600 },
  );
}

export async function startRun(label: string, args: string[], opts: RunOptions): Promise<Run> {
  const proxy = await startFaultProxy(opts.adminKubeconfig);
  for (const rule of opts.rules) proxy.addRule(rule);
  const id = nextId++;
  const kubeconfig = join(tmpdir(), `vw-chaos-${process.pid}-run-${id}.kubeconfig`);
  await writeRunKubeconfig(kubeconfig, proxy.url, opts.elsewhere);
  const env = { ...opts.env };
  const child = spawn('kubectl', ['vw', ...args], {
    env: {
      ...process.env,
      ...env,
      PATH: `${distBin}:${process.env.PATH}`,
      KUBECONFIG: kubeconfig,
      NO_COLOR: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: Run = {
    id,
    label,
    args,
    proxy,
    kubeconfig,
    env,
    startedAt: Date.now(),
    stdout: '',
    stderr: '',
    stderrAt: [],
    child,
    done: Promise.resolve(undefined as unknown as Run),
  };
  child.stdout?.on('data', (b: Buffer) => {
    run.stdout += b.toString();
  });
  child.stderr?.on('data', (b: Buffer) => {
    run.stderr += b.toString();
    run.stderrAt.push({ at: Date.now(), text: b.toString() });
  });
  child.on('exit', () => {
    run.exitedAt = Date.now();
  });
  run.done = new Promise<Run>((resolve) => {
    child.on('close', (code, signal) => {
      run.endedAt = Date.now();
      run.exitCode = code;
      run.signal = signal;
      resolve(run);
    });
    child.on('error', (err) => {
      run.stderr += `spawn failed: ${err.message}\n`;
      run.endedAt = Date.now();
      run.exitCode = -1;
      resolve(run);
    });
  });
  return run;
}

export const running = (r: Run) => r.endedAt === undefined;

/** Whether the run's process was alive at that moment. */
export const aliveAt = (r: Run, t: number) => r.startedAt <= t && (r.exitedAt ?? r.endedAt ?? Infinity) > t;

/** When the run first printed text matching re (stderr), if it did. */
export function printedAt(r: Run, re: RegExp): number | undefined {
  let text = '';
  for (const piece of r.stderrAt) {
    text += piece.text;
    if (re.test(text)) return piece.at;
  }
  return undefined;
}

/** The holder identities the run wrote into the lock's Lease (from the bodies its proxy saw). */
export function holdersOf(run: Run): Set<string> {
  const out = new Set<string>();
  for (const r of run.proxy.requests) {
    if (!/\/leases(\/kubectl-vw)?$/.test(r.path) || !r.body || !(r.method === 'PUT' || r.method === 'POST')) continue;
    try {
      const holder = (JSON.parse(r.body) as { spec?: { holderIdentity?: string } }).spec?.holderIdentity;
      if (holder) out.add(holder);
    } catch {
      // not JSON: not a lease write of ours
    }
  }
  return out;
}

export function kill(run: Run, signal: NodeJS.Signals): boolean {
  if (!running(run)) return false;
  run.killedWith = signal;
  run.killedAt = Date.now();
  return run.child.kill(signal);
}

const writes = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/**
 * Requests that change nothing another run could see conflict with: the lock, access reviews,
 * who-am-I, and the run journal (written before a run takes the lock and after it lets go).
 */
const bookkeeping =
  /\/leases\/kubectl-vw$|\/leases$|selfsubject(access|rules)?reviews|subjectaccessreviews|\/configmaps\/kubectl-vw-journal$/;

/** The run's writes that reached the API server and changed something (no dry run, no lock renewal). */
export const realWrites = (run: Run): ProxiedRequest[] =>
  run.proxy.requests.filter((r) => writes.has(r.method) && r.forwarded && !r.dryRun && !bookkeeping.test(r.path));

export function describeRun(run: Run): string {
  const how = run.killedWith
    ? `killed with ${run.killedWith}, exit ${run.exitCode ?? run.signal}`
    : `exit ${run.exitCode ?? run.signal}`;
  const secs = (((run.endedAt ?? Date.now()) - run.startedAt) / 1000).toFixed(1);
  return `#${run.id} ${run.label}: kubectl vw ${run.args.join(' ')} -> ${how} in ${secs}s`;
}
