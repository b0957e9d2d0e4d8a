#!/usr/bin/env node
// Named product mutations against the whole system: each is a deliberate breakage of the product,
// applied to a copy of the source (never to this working tree), built, and run against the fault
// campaign's chosen schedules (or a test file) that should catch it. Prints, per mutation, what
// caught it (the first violation or failure) or that nothing did, then the README's table.
//
//   node scripts/product-mutations.mjs [--only NAME[,NAME]] [--campaign-only] [--list]
//
// --campaign-only skips the test files: does the campaign alone catch it?
//
// Needs the tools of `npm test` (a control plane per schedule); each mutation costs a build and one
// to three schedules (about a minute each on 2 cores).
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const root = new URL('..', import.meta.url).pathname;

/** chaos: the chosen schedules (test/chaos/ci-schedules.ts) to run; test: a test file to run. */
export const mutations = [
  {
    name: 'lock-takes-live-holders',
    what: 'a lock that takes over live holders: any holder on this machine counts as dead',
    file: 'lib/kube/lease.ts',
    from: '  return !me.processAlive(Number(pid));',
    to: '  return true;',
    chaos: [1, 7],
  },
  {
    name: 'gate-accepts-partially-failed',
    what: 'a gate that accepts a Velero Backup PartiallyFailed',
    file: 'lib/operator/final-backup.ts',
    from: "  if (phase !== 'Completed') return { ...at, state: 'velero-failed'",
    to: "  if (phase !== 'Completed' && phase !== 'PartiallyFailed') return { ...at, state: 'velero-failed'",
    chaos: [1],
  },
  {
    name: 'helm-gets-user-env',
    what: "helm given the user's environment (HELM_KUBEAPISERVER and friends reach it)",
    file: 'lib/steps/purge/helm.ts',
    from: '      env: helmEnvironment(env, target, release.driver),\n      extendEnv: false,',
    to: '      env: { ...env.vars, HELM_DRIVER: release.driver },\n      extendEnv: false,',
    chaos: [13],
    test: 'test/integration/one-target.test.ts',
  },
  {
    name: 'record-keyed-by-name',
    what: 'the step 3 record keyed by the Cluster name, not its uid',
    file: 'lib/steps/decommission/record.ts',
    from: '  Boolean(r?.clusterUID && r.clusterUID === cluster.metadata.uid);',
    to: '  Boolean(r && r.cluster === cluster.metadata.name);',
    test: 'test/integration/identity.test.ts',
    chaos: [4],
  },
  {
    name: 'no-pause-before-backup',
    what: 'the pause-before-backup rule removed: a backup taken before the pause counts',
    file: 'lib/operator/final-backup.ts',
    from: '  if (seconds(started) < seconds(ctx.pausedAt))',
    to: '  if (false && seconds(started) < seconds(ctx.pausedAt))',
    chaos: [12, 10],
  },
  {
    name: 'no-act-time-check',
    what: "no re-check at the moment of the act: the gate's fresh read is never judged",
    file: 'lib/steps/act.ts',
    from: '    const refused = gate.judge(fresh);',
    to: '    const refused = undefined;',
    chaos: [2, 11],
  },
  {
    name: 'step4-ignores-backups',
    what: 'step 4 deletes the applications whatever their final backups (its plan and its gate)',
    edits: [
      {
        file: 'lib/steps/purge/gates.ts',
        from: '      check && !check.ok\n',
        to: '      false && check && !check.ok\n',
      },
      { file: 'lib/cli/commands/purge.ts', from: '  if (backupCheck && !backupCheck.ok) {', to: '  if (false) {' },
    ],
    chaos: [11],
  },
  {
    name: 'record-in-operator-namespace',
    what: "the step 3 record written in the operator's namespace (which purge deletes), not kube-system",
    edits: [
      {
        file: 'lib/steps/decommission/record.ts',
        from: '  const cm = await client.find(core.configMaps, decommissionRecord, toolNamespace);\n  if (cm) await client.mergePatch(core.configMaps, decommissionRecord, toolNamespace,',
        to: '  const cm = await client.find(core.configMaps, decommissionRecord, operatorNamespace);\n  if (cm) await client.mergePatch(core.configMaps, decommissionRecord, operatorNamespace,',
      },
      {
        file: 'lib/steps/decommission/record.ts',
        from: '      namespace: toolNamespace,\n      labels:',
        to: '      namespace: operatorNamespace,\n      labels:',
      },
      {
        file: 'lib/steps/decommission/record.ts',
        from: 'metadata, data }, toolNamespace);',
        to: 'metadata, data }, operatorNamespace);',
      },
    ],
    chaos: [0],
  },
  {
    name: 'dry-run-delete-body',
    what: "a server-side dry run's DELETE without dryRun in its body (the query alone)",
    file: 'lib/kube/client.ts',
    from: "        ...(opts.dryRun ? { dryRun: ['All'] } : {}),\n      },",
    to: '      },',
    test: 'test/integration/dry-run-invariant.test.ts',
  },
  {
    name: 'interrupt-exits-1',
    what: 'an interrupted run (SIGINT, SIGTERM) exits 1, not 130',
    file: 'lib/errors.ts',
    from: '  interrupted: 130,',
    to: '  interrupted: 1,',
    chaos: [6, 7],
  },
  {
    name: 'lock-never-released',
    what: 'the lock is never released when a run ends',
    file: 'lib/cli/step-context.ts',
    from: '    await held.release();',
    to: '    void held;',
    chaos: [5],
  },
  {
    name: 'uninstall-lock-per-step',
    what: 'uninstall takes the lock step by step, not for the whole procedure (schedule 93 of seed long-1127)',
    file: 'lib/cli/commands/uninstall.ts',
    from: "    : await runners.lock(pinned, session, 'UninstallResult', async (lock) => {\n        await hooks.beforeSteps?.(client);\n        return runSteps({ o, deps: { ...pinned, heldLock: lock }, runners, before, status });\n      });",
    to: '    : await runSteps({ o, deps: pinned, runners, before, status });',
    test: 'test/integration/concurrent-uninstall.test.ts',
    chaos: [7],
  },
];

/** A copy of the product's source with the mutation applied, built into its own dist/. */
function buildMutant(m) {
  const dir = mkdtempSync(join(tmpdir(), `vw-mutant-${m.name}-`));
  for (const p of ['lib', 'plugins', 'scripts', 'package.json', 'tsconfig.json'])
    cpSync(join(root, p), join(dir, p), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  for (const e of m.edits ?? [m]) {
    const path = join(dir, e.file);
    const text = readFileSync(path, 'utf8');
    const at = text.split(e.from).length - 1;
    if (at !== 1) throw new Error(`${m.name}: expected the text to change once in ${e.file}, found it ${at} times`);
    writeFileSync(path, text.replace(e.from, e.to));
  }
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  return dir;
}

/** The first line that says what failed, from a campaign's or jest's output. */
function firstFailure(out) {
  const lines = out.split('\n');
  return (
    lines.find((l) => /^ {2}violated: /.test(l))?.trim() ??
    lines.find((l) => /●|Expected|Received|thrown/.test(l))?.trim() ??
    lines
      .filter((l) => l.trim())
      .at(-1)
      ?.trim() ??
    ''
  );
}

function run(label, args, distBin) {
  const r = spawnSync(process.execPath, args, {
    cwd: root,
    env: { ...process.env, VW_DIST_BIN: distBin, VW_SIM_LOG: '0' },
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  return { label, caught: r.status !== 0, why: r.status !== 0 ? firstFailure(out) : '' };
}

function catchers(m, distBin, campaignOnly) {
  const out = [];
  if (m.test && !campaignOnly) {
    const args = ['--experimental-vm-modules', 'node_modules/jest/bin/jest.js', '--runInBand', m.test];
    out.push(run(m.test, args, distBin));
    if (out[0].caught) return out;
  }
  for (const k of m.chaos ?? []) {
    const r = run(
      `chaos --ci --only ${k}`,
      ['--import', './test/support/ts-loader.mjs', 'test/chaos/main.ts', '--ci', '--only', String(k)],
      distBin,
    );
    out.push(r);
    if (r.caught) return out;
  }
  return out;
}

const { values } = parseArgs({
  options: { only: { type: 'string' }, list: { type: 'boolean' }, 'campaign-only': { type: 'boolean' } },
});
if (values.list) {
  for (const m of mutations) console.log(`${m.name}: ${m.what}`);
  process.exit(0);
}
const only = values.only?.split(',');
const rows = [];
for (const m of mutations.filter((x) => !only || only.includes(x.name))) {
  const dir = buildMutant(m);
  try {
    const tried = catchers(m, join(dir, 'dist', 'bin'), values['campaign-only']);
    const by = tried.find((t) => t.caught);
    console.log(
      `${m.name}: ${by ? `caught by ${by.label}: ${by.why}` : `NOT CAUGHT (tried ${tried.map((t) => t.label).join(', ')})`}`,
    );
    rows.push(
      `| ${m.what} | ${by ? `\`${by.label}\`` : 'not caught'} | ${by ? by.why.replace(/\|/g, '\\|').slice(0, 160) : ''} |`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log('\n| mutation | caught by | what it said |\n| --- | --- | --- |');
for (const r of rows) console.log(r);
