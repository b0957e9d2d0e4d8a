import { UsageError } from '../../lib/errors';
import { parseTargetName, resolveSelection, type SelectionInput } from '../../lib/steps/selection';

describe('target names', () => {
  it.each([
    ['web', 'web'],
    ['applicationinstance/web', 'web'],
    ['applicationinstance.apps.vworkspace.io/web', 'web'],
    ['ai/web', 'web'],
  ])('reads %s', (text, name) => {
    expect(parseTargetName(text)).toEqual({ name });
  });

  it.each([
    ['shop/web', { namespace: 'shop', name: 'web' }],
    ['shop/applicationinstance.apps.vworkspace.io/web', { namespace: 'shop', name: 'web' }],
  ])('reads %s with its namespace', (text, target) => {
    expect(parseTargetName(text)).toEqual(target);
  });

  it('refuses names of other kinds', () => {
    expect(() => parseTargetName('deployment.apps/web')).toThrow(UsageError);
    expect(() => parseTargetName('a/b/c/d')).toThrow(UsageError);
    expect(() => parseTargetName('Bad_NS/web')).toThrow(UsageError);
  });
});

const input = (x: Partial<SelectionInput>): SelectionInput => ({ names: [], all: false, allNamespaces: false, ...x });
const sel = (x: Partial<SelectionInput>, ns: string, explicit = false) => resolveSelection(input(x), [], ns, explicit);

describe('selection flags', () => {
  it('requires names, a selector, -A or --all', () => {
    expect(() => sel({}, 'default')).toThrow(/no ApplicationInstances selected/);
  });
  it('--all means every namespace', () => {
    expect(sel({ all: true }, 'shop')).toEqual({
      names: [],
      namespace: 'shop',
      allNamespaces: true,
      selector: undefined,
    });
  });
  it('refuses --all with names', () => {
    expect(() => sel({ all: true, names: ['a'] }, 'x')).toThrow(UsageError);
  });
  it('deduplicates names', () => {
    expect(sel({ names: ['a', 'applicationinstance/a', 'b'] }, 'x').names).toEqual([{ name: 'a' }, { name: 'b' }]);
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
    expect(sel({ all: true }, 'default', false).allNamespaces).toBe(true);
    const inNs = sel({ all: true }, 'shop', true);
    expect(inNs).toMatchObject({ allNamespaces: false, namespace: 'shop', names: [] });
  });
});
