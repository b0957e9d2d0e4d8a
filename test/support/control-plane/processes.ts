import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

// The control plane's long-running processes: spawned with their output in a log file, tracked so
// that nothing outlives the test run, even when the parent dies without calling stop().

export interface Daemon {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** Set once the process has exited: its exit code, or the signal that ended it. */
  exited?: string;
}

const live = new Set<Daemon>();
const tempDirs = new Set<string>();

/**
 * setpriv --pdeathsig makes the kernel SIGKILL the child when its parent dies (even by SIGKILL,
 * when no exit handler runs). It survives the exec of the real binary. Used when available.
 */
const pdeathsig = existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', '--pdeathsig', 'SIGKILL', '--'] : [];

export function startDaemon(
  name: string,
  binary: string,
  args: string[],
  logFile: string,
  env: NodeJS.ProcessEnv = process.env,
): Daemon {
  installExitHandlers();
  const fd = openSync(logFile, 'a');
  const [command, ...rest] = [...pdeathsig, binary, ...args] as [string, ...string[]];
  const child = spawn(command, rest, { stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  const daemon: Daemon = { name, child, logFile };
  live.add(daemon);
  child.once('exit', (code, signal) => {
    daemon.exited = signal ?? `exit code ${code}`;
    live.delete(daemon);
  });
  child.once('error', (err) => {
    daemon.exited = `failed to start: ${err.message}`;
    live.delete(daemon);
  });
  // Not kept alive by its children: the harness stops them, or the exit handler does.
  child.unref();
  return daemon;
}

export function logTail(daemon: Daemon, lines = 30): string {
  try {
    return readFileSync(daemon.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** SIGTERM, then SIGKILL if the process is still there after graceMs. */
export async function stopDaemon(daemon: Daemon, graceMs = 5000): Promise<void> {
  if (daemon.exited !== undefined || daemon.child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => daemon.child.once('exit', () => resolve()));
  daemon.child.kill('SIGTERM');
  const timer = setTimeout(() => daemon.child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** A temp dir removed by the exit handler if stop() never runs. */
export function trackTempDir(dir: string): void {
  installExitHandlers();
  tempDirs.add(dir);
}

/** Removes the dir, or with `keep`, everything in it but those entries (then no longer tracked). */
export function removeTempDir(dir: string, keep: string[] = []): void {
  if (keep.length === 0) rmSync(dir, { recursive: true, force: true });
  else
    for (const entry of readdirSync(dir))
      if (!keep.includes(entry)) rmSync(join(dir, entry), { recursive: true, force: true });
  tempDirs.delete(dir);
}

let installed = false;

function installExitHandlers(): void {
  if (installed) return;
  installed = true;
  // 'exit' handlers must be synchronous: SIGKILL is all there is time for.
  process.once('exit', killEverythingNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killEverythingNow();
      // Let the signal do what it would have done without this handler.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.once(signal, onSignal);
  }
}

function killEverythingNow(): void {
  for (const daemon of live) {
    try {
      daemon.child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
  if (process.env.VW_TEST_KEEP_DIR !== '1') {
    for (const dir of tempDirs) {
      try {
        // Retries: a process just sent SIGKILL may still be writing for a moment.
        rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
      } catch {
        // leave it: an exit handler must not throw
      }
    }
  }
  tempDirs.clear();
}
