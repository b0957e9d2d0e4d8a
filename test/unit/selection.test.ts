import { UsageError } from '../../lib/errors';
import { parseTargetName, selectionFromArgs } from '../../lib/steps/selection';

describe('target names', () => {
  it.each([
    ['web', 'web'],
    ['applicationinstance/web', 'web'],
    ['applicationinstance.apps.vworkspace.io/web', 'web'],
    ['ai/web', 'web'],
  ])('reads %s', (text, name) => {
    expect(parseTargetName(text)).toBe(name);
  });

  it('refuses names of other kinds', () => {
    expect(() => parseTargetName('deployment/web')).toThrow(UsageError);
  });
});

describe('selection flags', () => {
  it('requires names, a selector, -A or --all', () => {
    expect(() => selectionFromArgs({}, 'default')).toThrow(/no ApplicationInstances selected/);
  });
  it('--all means every namespace', () => {
    expect(selectionFromArgs({ all: true }, 'shop')).toEqual({
      names: [],
      namespace: 'shop',
      allNamespaces: true,
      selector: undefined,
    });
  });
  it('refuses --all with names', () => {
    expect(() => selectionFromArgs({ all: true, names: ['a'] }, 'x')).toThrow(UsageError);
  });
  it('deduplicates names', () => {
    expect(selectionFromArgs({ names: ['a', 'applicationinstance/a', 'b'] }, 'x').names).toEqual(['a', 'b']);
  });
});

import { invocationArgs, stepFromInvocationName } from '../../lib/cli/invocation';

describe('multi-call executable', () => {
  it.each([
    ['/usr/local/bin/kubectl-vw-pause', 'pause'],
    ['/home/u/.krew/bin/kubectl-vw_backup', 'backup'],
    ['C:\\krew\\bin\\kubectl-vw_purge.exe', 'purge'],
    ['/x/dist/kubectl-vw-decommission.js', 'decommission'],
    ['/usr/local/bin/kubectl-vw', undefined],
    ['/usr/local/bin/kubectl-vw-bogus', undefined],
  ])('%s runs %p', (path, step) => {
    expect(stepFromInvocationName(path)).toBe(step);
  });
  it.each([
    [
      ['node', '/x/dist/kubectl-vw.js'],
      ['pause', '--all'],
      ['pause', '--all'],
    ],
    [['kubectl-vw_pause'], ['--all'], ['pause', '--all']],
    [['kubectl_complete-vw'], ['pause', '--c'], ['__complete', 'pause', '--c']],
    [['/home/u/bin/kubectl_complete-vw-pause'], ['--c'], ['__complete', 'pause', '--c']],
    [['kubectl_complete-vw_backup'], [''], ['__complete', 'backup', '']],
    [['kubectl-vw_pause'], ['__complete', '--c'], ['__complete', 'pause', '--c']],
    [['kubectl_complete-vw-bogus'], ['x'], ['x']],
  ])('invoked as %p with %p runs %p', (names, args, expected) => {
    expect(invocationArgs(names, args)).toEqual(expected);
  });
});

describe('--all and -n', () => {
  it('--all alone is every namespace; with an explicit -n it is that namespace', () => {
    expect(selectionFromArgs({ all: true }, 'default', false).allNamespaces).toBe(true);
    const inNs = selectionFromArgs({ all: true }, 'shop', true);
    expect(inNs).toMatchObject({ allNamespaces: false, namespace: 'shop', names: [] });
  });
});
