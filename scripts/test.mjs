#!/usr/bin/env node
// `npm test`: the suite in two streams at once, each a jest --runInBand over half the files
// (test/support/sequencer.cjs balances them by duration) with a control plane of its own, so
// no two files ever share a cluster's state. Most of a file's time is spent waiting on the API
// server and the simulated operator, so two streams on two cores take a little over half as
// long. Each line is prefixed with its stream; the exit code is the first failing stream's.
// With arguments (`npm test -- test/integration/pause.test.ts`), one stream runs just those.
// VW_TEST_STREAMS=1 runs the whole suite in one stream, as does USE_EXISTING_CLUSTER=true (one
// cluster cannot be two streams' own).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const jest = ['--experimental-vm-modules', 'node_modules/jest/bin/jest.js', '--runInBand'];
const args = process.argv.slice(2);
const oneCluster = process.env.USE_EXISTING_CLUSTER === 'true';
const streams = args.length > 0 || oneCluster ? 1 : Number(process.env.VW_TEST_STREAMS || 2);

function run(extra, prefix) {
  const child = spawn(process.execPath, [...jest, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  for (const [from, to] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ]) {
    createInterface({ input: from }).on('line', (line) => to.write(`${prefix}${line}\n`));
  }
  return new Promise((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

const started = Date.now();
const codes = await Promise.all(
  Array.from({ length: streams }, (_, i) =>
    streams === 1 ? run(args, '') : run([`--shard=${i + 1}/${streams}`], `[${i + 1}/${streams}] `),
  ),
);
const failed = codes.find((c) => c !== 0) ?? 0;
process.stderr.write(
  `npm test: ${streams} stream(s) in ${Math.round((Date.now() - started) / 1000)} s, exit codes ${codes.join(' ')}\n`,
);
process.exitCode = failed;
