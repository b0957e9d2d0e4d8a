// Splits the suite for `npm test`'s two streams (jest --shard=1/2 and 2/2, each with a control
// plane of its own): by the files' last known durations, longest first onto the lighter stream,
// so the two end together. jest's own split is by a hash of the path, which can put the four
// longest files in one stream. A file not in test/durations.json counts as a minute.
const Sequencer = require('@jest/test-sequencer').default;
const { relative } = require('node:path');
const durations = require('../durations.json');

const unknownSeconds = 60;

class BalancedSequencer extends Sequencer {
  shard(tests, { shardIndex, shardCount }) {
    const cost = (t) => durations[relative(t.context.config.rootDir, t.path)] ?? unknownSeconds;
    const ordered = [...tests].sort((a, b) => cost(b) - cost(a) || (a.path < b.path ? -1 : 1));
    const load = Array.from({ length: shardCount }, () => 0);
    const mine = [];
    for (const t of ordered) {
      const lightest = load.indexOf(Math.min(...load));
      load[lightest] += cost(t);
      if (lightest === shardIndex - 1) mine.push(t);
    }
    return mine;
  }
}

module.exports = BalancedSequencer;
