import { type ChildProcess, spawn } from 'node:child_process';
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
  startedAt: number;
  endedAt?: number;
  exitCode?: number | null;
  signal?: NodeJS.Signals | null;
  /** The signal chaos sent it, if any. */
  killedWith?: NodeJS.Signals;
  stdout: string;
  stderr: string;
  done: Promise<Run>;
  child: ChildProcess;
}

let nextId = 1;

export async function startRun(
  label: string,
  args: string[],
  opts: { adminKubeconfig: string; rules: FaultRule[] },
): Promise<Run> {
  const proxy = await startFaultProxy(opts.adminKubeconfig);
  for (const rule of opts.rules) proxy.addRule(rule);
  const child = spawn('kubectl', ['vw', ...args], {
    env: {
      ...process.env,
      PATH: `${distBin}:${process.env.PATH}`,
      KUBECONFIG: proxy.kubeconfig,
      NO_COLOR: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: Run = {
    id: nextId++,
    label,
    args,
    proxy,
    startedAt: Date.now(),
    stdout: '',
    stderr: '',
    child,
    done: Promise.resolve(undefined as unknown as Run),
  };
  child.stdout?.on('data', (b: Buffer) => {
    run.stdout += b.toString();
  });
  child.stderr?.on('data', (b: Buffer) => {
    run.stderr += b.toString();
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

export function kill(run: Run, signal: NodeJS.Signals): boolean {
  if (!running(run)) return false;
  run.killedWith = signal;
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
