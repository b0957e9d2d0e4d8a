// Imported first by every plugin's entry, before the rest of the bundle loads: a Ctrl-C or SIGTERM
// that arrives while Node is still loading (nothing read, nothing changed, no lock) exits 130 as
// the README says, rather than killing the process by the signal. processDeps replaces these.

const early = () => process.exit(130);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, early);

/** Hands the signals over to the run's own handlers. */
export function dropEarlySignalHandlers() {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.off(sig, early);
}
