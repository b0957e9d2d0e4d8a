import type { KubeObject } from '../../lib/kube/resources';
import type { Cluster, Condition } from '../../lib/operator/schemas';
import { judgeRevocation, reportsOnDeletion, vanished } from '../../lib/steps/decommission/evidence';
import {
  type DecommissionRecord,
  describeRecorded,
  owesRevocation,
  recordIsAbout,
  recordStanding,
} from '../../lib/steps/decommission/record';

// Revocation is claimed only on the operator's own word, and the step 3 record speaks only for
// its own Cluster (by uid): the judgements, case by case, with the words they say.

const at = (s: string) => `2026-11-27T12:00:${s}Z`;
const cond = (type: string, status: string, o: Partial<Condition> = {}): Condition =>
  ({
    type,
    status,
    reason: o.reason ?? 'R',
    message: o.message ?? 'm',
    lastTransitionTime: at('10'),
    ...o,
  }) as Condition;

function cluster(o: { id?: string; conditions?: Condition[]; managedFields?: unknown[]; uid?: string } = {}): Cluster {
  return {
    metadata: {
      name: 'c1',
      namespace: 'vworkspace-system',
      uid: o.uid ?? 'u1',
      deletionTimestamp: at('00'),
      managedFields: o.managedFields,
    },
    spec: { odoo: { url: 'http://odoo' } },
    status: { clusterID: o.id ?? 'id-1', conditions: o.conditions ?? [] },
  } as unknown as Cluster;
}

describe('reportsOnDeletion', () => {
  const c = cluster({
    conditions: [
      cond('A', 'True', { observedGeneration: 1 }),
      cond('B', 'True', { observedGeneration: 2 }),
      cond('C', 'True', { observedGeneration: 3 }),
      cond('D', 'True'),
    ],
  });
  it('keeps the conditions observed at the deletion generation or later, only with a whole generation', () => {
    expect(reportsOnDeletion(c, 2).map((x) => x.type)).toEqual(['B', 'C']);
    expect(reportsOnDeletion(c, 3).map((x) => x.type)).toEqual(['C']);
    expect(reportsOnDeletion(c, undefined)).toEqual([]);
    expect(reportsOnDeletion(c, 2.5)).toEqual([]);
    expect(reportsOnDeletion(cluster({ conditions: undefined }), 1)).toEqual([]);
    const none = { ...c, status: undefined } as unknown as Cluster;
    expect(reportsOnDeletion(none, 1)).toEqual([]);
  });
});

describe('judgeRevocation', () => {
  const reported = [
    cond('OdooReachable', 'True', { observedGeneration: 2 }),
    cond('Ready', 'False', { observedGeneration: 2 }),
  ];

  it('needs the operator finalizer at the deletion', () => {
    const r = judgeRevocation(cluster({ conditions: reported }), false, 2);
    expect(r).toEqual({
      confirmed: false,
      evidence: "the operator's finalizer was not on the Cluster when it was deleted: the operator never took part",
    });
  });

  it('needs a cluster ID', () => {
    expect(judgeRevocation(cluster({ id: '', conditions: reported }), true, 2)).toEqual({
      confirmed: false,
      evidence: 'the Cluster has no cluster ID: it never registered with Odoo',
    });
  });

  it('needs a report at the deletion generation; names who wrote finalizers after the deletion', () => {
    const old = [cond('OdooReachable', 'True', { observedGeneration: 1 })];
    expect(judgeRevocation(cluster({ conditions: old }), true, 2)).toEqual({
      confirmed: false,
      evidence:
        "the operator's finalizer went, but the operator never reported on the deletion (no condition observed at generation 2 or later): it may have been removed by hand",
    });
    expect(judgeRevocation(cluster({ conditions: old }), true, undefined).evidence).toMatch(
      /at generation unknown or later/,
    );
    const fin = { 'f:metadata': { 'f:finalizers': {} } };
    const managedFields = [
      { manager: 'kubectl-patch', time: at('05'), fieldsV1: fin },
      { manager: 'before', time: at('00').replace(':00Z', ':00Z').replace('12:00:00', '11:59:59'), fieldsV1: fin },
      { manager: 'kubectl-vw', time: at('05'), fieldsV1: fin },
      { manager: 'status-writer', time: at('05'), subresource: 'status', fieldsV1: fin },
      { manager: 'labels-only', time: at('05'), fieldsV1: { 'f:metadata': { 'f:labels': {} } } },
      { time: at('06'), fieldsV1: fin },
    ];
    expect(judgeRevocation(cluster({ conditions: old, managedFields }), true, 2).evidence).toBe(
      "the operator's finalizer went, but the operator never reported on the deletion (no condition observed at generation 2 or later); written after the deletion by kubectl-patch, unknown",
    );
  });

  it('refuses while Decommissioning=False/OdooUnreachable stands, unless Odoo was reachable since', () => {
    const unreachable = cond('Decommissioning', 'False', {
      reason: 'OdooUnreachable',
      message: 'odoo down',
      observedGeneration: 2,
      lastTransitionTime: at('20'),
    });
    const r = judgeRevocation(cluster({ conditions: [unreachable] }), true, 2);
    expect(r).toEqual({
      confirmed: false,
      evidence:
        "the operator's finalizer went while it still reported Decommissioning=False/OdooUnreachable (odoo down)",
    });
    const noMessage = { ...unreachable, message: undefined } as unknown as Condition;
    expect(judgeRevocation(cluster({ conditions: [noMessage] }), true, 2).evidence).toMatch(/\(no message\)$/);
    const earlier = cond('OdooReachable', 'True', { observedGeneration: 2, lastTransitionTime: at('19') });
    expect(judgeRevocation(cluster({ conditions: [unreachable, earlier] }), true, 2).confirmed).toBe(false);
    const same = cond('OdooReachable', 'True', { observedGeneration: 2, lastTransitionTime: at('20') });
    expect(judgeRevocation(cluster({ conditions: [unreachable, same] }), true, 2).confirmed).toBe(true);
    const notTrue = cond('OdooReachable', 'False', { observedGeneration: 2, lastTransitionTime: at('30') });
    expect(judgeRevocation(cluster({ conditions: [unreachable, notTrue] }), true, 2).confirmed).toBe(false);
    const otherReason = { ...unreachable, reason: 'Other' };
    expect(judgeRevocation(cluster({ conditions: [otherReason] }), true, 2).confirmed).toBe(true);
    const trueStatus: Condition = { ...unreachable, status: 'True' };
    expect(judgeRevocation(cluster({ conditions: [trueStatus] }), true, 2).confirmed).toBe(true);
  });

  it('confirms on the operator word, and says what that word was', () => {
    expect(judgeRevocation(cluster({ conditions: reported }), true, 2)).toEqual({
      confirmed: true,
      evidence:
        "the operator reported on the deletion (OdooReachable=True, Ready=False at generation 2) and removed its own finalizer, with no OdooUnreachable standing; kubectl vw's observer finalizer stayed",
    });
  });

  it('a Cluster that vanished is never revoked', () => {
    expect(vanished).toEqual({
      confirmed: false,
      evidence:
        "the Cluster went without its finalizer draining under kubectl vw's eyes (its observer finalizer was removed too, e.g. by finalizers: null)",
    });
  });
});

describe('the step 3 record', () => {
  const record = (o: Partial<DecommissionRecord> = {}): DecommissionRecord => ({
    cluster: 'c1',
    clusterUID: 'u1',
    clusterID: 'id-1',
    odooUrl: 'http://odoo',
    startedAt: '2026-11-27T12:00:00Z',
    outcome: 'revoked',
    ...o,
  });
  const obj = (uid?: string, name = 'c1'): KubeObject => ({ metadata: { name, uid } });

  it('is about one Cluster by uid, never by name', () => {
    expect(recordIsAbout(record(), obj('u1'))).toBe(true);
    expect(recordIsAbout(record(), obj('u2'))).toBe(false);
    expect(recordIsAbout(record({ clusterUID: undefined }), obj(undefined))).toBe(false);
    expect(recordIsAbout(record({ clusterUID: '' }), obj(''))).toBe(false);
    expect(recordIsAbout(undefined, obj('u1'))).toBe(false);
  });

  it('stands for its own Cluster, and is superseded by another one or by an installation after it', () => {
    expect(recordStanding(undefined, [])).toEqual({});
    expect(recordStanding(record(), [obj('u1')])).toEqual({ record: record() });
    expect(recordStanding(record(), [obj('u1'), obj('u2', 'c2')])).toEqual({
      superseded: 'the step 3 record is about Cluster c1 (uid u1, cluster ID id-1), not Cluster c2 (uid u2) there now',
    });
    expect(recordStanding(record(), [], '2026-11-27T12:00:01Z')).toEqual({
      superseded:
        "the operator was installed again at 2026-11-27T12:00:01Z, after the step 3 record of Cluster c1 (uid u1, cluster ID id-1) (2026-11-27T12:00:00Z): what became of that installation's Cluster is unknown",
    });
    expect(recordStanding(record(), [], '2026-11-27T12:00:00Z')).toEqual({ record: record() });
    expect(recordStanding(record(), [], '2026-11-27T11:00:00Z')).toEqual({ record: record() });
    expect(recordStanding(record(), [], undefined)).toEqual({ record: record() });
    expect(recordStanding(record(), [obj('u1')], '2026-11-27T13:00:00Z')).toEqual({ record: record() });
  });

  it('once kept as superseded, stays superseded when the evidence of the later installation is gone', () => {
    const kept = record({ supersededBy: 'the operator was installed again at ...' });
    expect(recordStanding(kept, [], undefined)).toEqual({ superseded: 'the operator was installed again at ...' });
    // Another Cluster there now still says so in its own words.
    expect(recordStanding(kept, [obj('u2', 'c2')]).superseded).toMatch(/not Cluster c2 \(uid u2\) there now/);
  });

  it('names the recorded Cluster by what identifies it', () => {
    expect(describeRecorded(record())).toBe('Cluster c1 (uid u1, cluster ID id-1)');
    expect(describeRecorded(record({ clusterUID: undefined, clusterID: '' }))).toBe(
      'Cluster c1 (uid not recorded, cluster ID unknown)',
    );
  });

  it('owes a revocation when forced or unconfirmed, only then', () => {
    expect(owesRevocation(record({ outcome: 'forced' }))).toBe(true);
    expect(owesRevocation(record({ outcome: 'unconfirmed' }))).toBe(true);
    expect(owesRevocation(record({ outcome: 'revoked' }))).toBe(false);
    expect(owesRevocation(record({ outcome: 'in-progress' }))).toBe(false);
    expect(owesRevocation(undefined)).toBe(false);
  });
});
