import { describe, expect, test } from '@jest/globals';
import * as product from '../../lib/operator/names';
import * as contract from '../support/contract';

// The product and the test world each write the operator's contract (shared/spec/operator-api.md)
// down once: the product in lib/operator/names.ts, the world in test/support/contract.ts. The
// world never imports the product's, so that a wrong name in the product cannot be agreed with by
// the world it is tested in. This test is where the two meet: on every name the contract defines.

describe("the product's names agree with the contract", () => {
  test.each([
    ['operator namespace', product.operatorNamespace, contract.operatorNamespace],
    ['helm release', product.helmReleaseName, contract.helmReleaseName],
    ['bootstrap credential Secret', product.bootstrapCredentialSecret, contract.bootstrapCredentialSecret],
    ['bootstrap credential label', product.bootstrapCredentialLabel, contract.bootstrapCredentialLabel],
    ['Velero namespace', product.veleroNamespace, contract.veleroNamespace],
    ['default storage location', product.defaultStorageLocation, contract.defaultStorageLocation],
    ['pause annotation', product.pauseAnnotation, contract.pauseAnnotation],
    ['pause value', product.pauseValue, contract.pauseValue],
    ['Cluster finalizer', product.clusterFinalizer, contract.clusterFinalizer],
    ['final backup suffix', product.finalBackupSuffix, contract.finalBackupSuffix],
  ])('%s', (_what, mine, theirs) => {
    expect(mine).toBe(theirs);
  });

  test('the contract gives the values the procedure and operator-api.md write', () => {
    expect(contract.operatorNamespace).toBe('vworkspace-system');
    expect(contract.helmReleaseName).toBe('vworkspace-app-operator');
    expect(contract.bootstrapCredentialSecret).toBe('vworkspace-bootstrap-credential');
    expect(`${contract.bootstrapCredentialLabel}=${contract.bootstrapCredentialLabelValue}`).toBe(
      'ops.vworkspace.io/credential=bootstrap',
    );
    expect(contract.veleroNamespace).toBe('velero');
    expect(contract.defaultStorageLocation).toBe('aws-primary');
    expect(`${contract.pauseAnnotation}=${contract.pauseValue}`).toBe('apps.vworkspace.io/reconcile=disabled');
    expect(contract.clusterFinalizer).toBe('ops.vworkspace.io/decommission');
    expect(contract.finalBackupName('web')).toBe('web-final-backup');
  });

  test('the final backup of an application is <applicationinstance>-final-backup', () => {
    for (const app of ['web', 'odoo-1', 'a'.repeat(40)]) {
      expect(product.finalBackupName(app)).toBe(contract.finalBackupName(app));
    }
  });

  test.each([
    ['ApplicationInstance', product.resources.applicationInstances, contract.kinds.applicationInstances],
    ['Operation', product.resources.operations, contract.kinds.operations],
    ['Cluster', product.resources.clusters, contract.kinds.clusters],
  ])('%s: group, version, plural, kind and scope', (_kind, mine, theirs) => {
    expect({
      group: mine.group,
      version: mine.version,
      plural: mine.plural,
      kind: mine.kind,
      namespaced: mine.namespaced,
    }).toEqual(theirs);
  });

  test.each([
    ['HelmRelease', product.resources.helmReleases, contract.contractUpstream.helmRelease],
    ['Velero Backup', product.resources.veleroBackups, contract.contractUpstream.veleroBackup],
  ])('%s: the group and version the contract names', (_kind, mine, theirs) => {
    expect({ group: mine.group, version: mine.version, kind: mine.kind }).toEqual(theirs);
  });

  test("the operator's CRDs", () => {
    expect([...product.operatorCrds].sort()).toEqual([...contract.operatorCrds].sort());
    for (const kind of Object.values(contract.kinds)) {
      expect(contract.operatorCrds).toContain(`${kind.plural}.${kind.group}`);
    }
  });
});
