import type { Fault, Schedule } from './schedule';

// The test suite's short campaign: schedules chosen, not drawn, so that every fault kind is met
// at least once while a run is at work (the campaign's kind × hit table proves it, and
// test/integration/chaos.test.ts asserts it). `npm run chaos -- --ci --only K` replays one.

const base = {
  seed: 'chosen',
  mode: 'uninstall',
  deleteApps: true,
  wipe: false,
  suspendHelmReleases: false,
  skipBackup: false,
} as const;

// Moments are from the first pass's start; on this machine an uninstall pauses in its first 2 s,
// backs up until about 9 s, deletes the Cluster about then, and purges until about 18 s.
const chosen: (Partial<Schedule> & { faults: Fault[] })[] = [
  {
    wipe: true,
    faults: [
      { kind: 'helm-env', atMs: 0 },
      { kind: 'ttl-near-margin', atMs: 0, overMarginSeconds: 6 },
      {
        kind: 'api',
        atMs: 1_000,
        forMs: 5_000,
        action: { status: 429, retryAfterSeconds: 1 },
        writesOnly: false,
        probability: 0.25,
      },
      { kind: 'context-switch', atMs: 2_000 },
      { kind: 'hand-edit', atMs: 4_000, edit: 'annotate' },
    ],
  },
  {
    suspendHelmReleases: true,
    faults: [
      { kind: 'concurrent', atMs: 0, command: 'pause' },
      { kind: 'capability-flip', atMs: 500, to: true },
      { kind: 'hand-edit', atMs: 1_500, edit: 'new-application' },
      { kind: 'partial-succeeded', atMs: 3_000 },
    ],
  },
  {
    mode: 'steps',
    faults: [
      { kind: 'resume-window', atMs: 0, read: 2 },
      { kind: 'api', atMs: 0, forMs: 15_000, action: { delayMs: 500 }, writesOnly: false, probability: 0.25 },
    ],
  },
  {
    faults: [
      { kind: 'storage-location', atMs: 0, midBackup: true },
      { kind: 'odoo', atMs: 1_000, mode: 'down' },
      { kind: 'backups', atMs: 1_500, outcome: 'fail' },
    ],
  },
  {
    faults: [
      { kind: 'reinstall', atMs: 0, removedByHand: false },
      { kind: 'freeze', atMs: 5_000, forMs: 2_000 },
    ],
  },
  {
    deleteApps: false,
    faults: [
      { kind: 'hand-edit', atMs: 500, edit: 'delete-application' },
      { kind: 'lock-lost', atMs: 2_000, afterMs: 500 },
    ],
  },
  {
    mode: 'steps',
    suspendHelmReleases: true,
    faults: [
      { kind: 'stuck-finalizer', atMs: 1_000, on: 'application' },
      { kind: 'kill', atMs: 5_000, signal: 'SIGTERM' },
    ],
  },
  {
    faults: [
      { kind: 'api', atMs: 0, forMs: 15_000, action: { drop: true }, writesOnly: true, probability: 0.25 },
      { kind: 'concurrent', atMs: 1_000, command: 'uninstall' },
      // The second uninstall reaches the lock 3-4 s after it starts: the first is interrupted after that.
      { kind: 'kill', atMs: 10_000, signal: 'SIGINT' },
    ],
  },
  {
    mode: 'steps',
    faults: [{ kind: 'hang', atMs: 1_000, forMs: 5_000, writesOnly: false, probability: 0.25 }],
  },
  {
    faults: [
      { kind: 'stuck-finalizer', atMs: 0, on: 'cluster' },
      { kind: 'kill', atMs: 12_000, signal: 'SIGKILL' },
    ],
  },
  {
    // A latecomer after the pause: backed up unpaused (that backup never counts), paused on the next pass.
    faults: [{ kind: 'hand-edit', atMs: 1_500, edit: 'new-application' }],
  },
  {
    // A final backup deleted between step 3 and step 4's deletes: step 4's gate must see it.
    mode: 'steps',
    faults: [{ kind: 'hand-edit', atMs: 0, edit: 'delete-velero-backup', afterStep3: true }],
  },
  {
    // A latecomer once step 1 is done, before step 2 lists: the backup takes one of it unpaused
    // (with a warning; it never counts), the decommission refuses, and the next pass pauses it and
    // must take another. A build that lets the first count deletes it without a final backup.
    mode: 'steps',
    faults: [{ kind: 'hand-edit', atMs: 0, edit: 'new-application', afterPause: true }],
  },
  {
    // The user's HELM_* variables with nothing else in the way, so that the first pass reaches
    // helm under them (schedule 0's other faults can end that pass before step 5).
    wipe: true,
    faults: [{ kind: 'helm-env', atMs: 0 }],
  },
];

export function chosenSchedules(): Schedule[] {
  return chosen.map((s, index) => ({ ...base, ...s, index }));
}
