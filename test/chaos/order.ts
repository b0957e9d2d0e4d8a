import { operatorNamespace } from '../support/contract';
import type { CheckContext } from './invariants';
import { realWrites } from './runs';

// The procedure's order, as it happened: the Cluster is deleted (step 3) only while every live
// application is paused and has a final backup that counts (one taken after its pause: backup
// may take one before, with a warning, but it never counts); nothing of steps 4 and 5 (applications, the
// release's objects, CRDs, the operator's namespace) is deleted while a Cluster still stands.

/** Hand edits this close before an act may have landed between its fresh read and its request. */
const raceMs = 1_000;
const toleranceMs = 500;

// (An Operation's delete is no sign of step 4: --retry-failed deletes a Failed one in step 2.)
const step4or5 = [
  /\/applicationinstances(\/[^/]+)?$/,
  /\/customresourcedefinitions\/[^/]+$/,
  new RegExp(`^/api/v1/namespaces/${operatorNamespace}$`),
  new RegExp(`/namespaces/${operatorNamespace}/(?!clusters|events)[^/]+/[^/]+$`),
];

/** Apps a hand edit touched (made, flipped, a backup deleted...) shortly before t: the race is not the product's. */
function racedByHand(ctx: CheckContext, t: number): Set<string> {
  return new Set(
    ctx.injector.handEdits
      .filter((e) => e.at > t - raceMs && e.at <= t && e.edit !== 'resume')
      .map((e) => e.target ?? '*'),
  );
}

export function checkOrder(ctx: CheckContext, checked: Set<unknown>): string[] {
  const out: string[] = [];
  const { observer, schedule, tally } = ctx;
  const byHand = ctx.injector.handEdits.filter((e) => e.edit === 'cluster removed by hand').map((e) => e.at);
  for (const d of observer.clusterDeletions) {
    if (checked.has(d)) continue;
    checked.add(d);
    // Step 3 is kubectl vw's act: a Cluster a hand removed is not judged by it.
    if (byHand.some((t) => t <= d.at && d.at - t < 10_000)) continue;
    tally.count('order');
    const raced = racedByHand(ctx, d.at);
    const unpaused = d.unpaused.filter((a) => !raced.has(a) && !raced.has('*'));
    const uncounted = schedule.skipBackup
      ? []
      : d.uncounted.filter((a) => !raced.has(a.split(' ')[0] as string) && !raced.has('*'));
    if (unpaused.length) out.push(`Cluster ${d.cluster} was deleted while ${unpaused.join(', ')} were not paused`);
    if (uncounted.length)
      out.push(`Cluster ${d.cluster} was deleted while ${uncounted.join(', ')} had no final backup that counts`);
  }
  const reinstalls = ctx.injector.handEdits.filter((e) => e.edit === 'reinstall').map((e) => e.at);
  for (const run of ctx.runs) {
    for (const w of realWrites(run)) {
      if (checked.has(w) || w.method !== 'DELETE' || !step4or5.some((re) => re.test(w.path))) continue;
      checked.add(w);
      tally.count('order');
      const t = (w.forwardedAt ?? w.time).getTime();
      // helm's own requests follow the gate that let it start; a reinstall meanwhile is not its to see.
      const helmDuringReinstall = /^Helm\//.test(w.userAgent ?? '') && reinstalls.some((r) => r >= run.startedAt);
      if (ctx.observer.clusterAt(t - toleranceMs) && ctx.observer.clusterAt(t) && !helmDuringReinstall)
        out.push(`${run.label}: ${w.method} ${w.path} while a Cluster still stood (step 4 or 5 before step 3)`);
    }
  }
  return out;
}
