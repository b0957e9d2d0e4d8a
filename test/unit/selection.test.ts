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

import { readFileSync } from 'node:fs';
import { parseNamesText } from '../../lib/steps/selection';

// `-f` reads what kubectl vw and kubectl print: -o name lines, and whole -o json|yaml documents,
// taking each application's namespace with its name, so a chain is exact across namespaces.
describe('-f reads documents', () => {
  const golden = (name: string) => readFileSync(new URL(`../golden/${name}`, import.meta.url), 'utf8');
  const keys = (text: string) => parseNamesText(text).map((t) => `${t.namespace ?? ''}/${t.name}`);

  it.each([['pause.json'], ['pause.yaml']])(
    "kubectl vw pause's %s: its ApplicationInstances, not its HelmReleases",
    (f) => {
      expect(keys(golden(f))).toEqual(['shop/web', 'shop/db', 'crm/crm']);
    },
  );

  it.each([['resume.json'], ['resume.yaml']])("kubectl vw resume's %s", (f) => {
    expect(keys(golden(f))).toEqual(['shop/web', 'crm/crm']);
  });

  it.each([['backup.json'], ['backup.yaml'], ['backup-dry-run-client.json'], ['backup-dry-run-client.yaml']])(
    "kubectl vw backup's %s: the applications backed up",
    (f) => {
      const read = keys(golden(f));
      expect(read.length).toBeGreaterThan(0);
      expect(read.every((k) => /^[a-z0-9-]+\/[a-z0-9-]+$/.test(k))).toBe(true);
      expect(read).toContain('shop/web');
    },
  );

  it('a `kubectl get -o json` List, and a single object', () => {
    const item = (namespace: string, name: string) => ({
      apiVersion: 'apps.vworkspace.io/v1alpha1',
      kind: 'ApplicationInstance',
      metadata: { name, namespace, uid: 'x' },
      spec: {},
    });
    const list = { apiVersion: 'v1', kind: 'List', items: [item('a', 'web'), item('b', 'web')], metadata: {} };
    expect(keys(JSON.stringify(list, null, 2))).toEqual(['a/web', 'b/web']);
    expect(keys(JSON.stringify(item('a', 'db')))).toEqual(['a/db']);
    const ops = {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          kind: 'Operation',
          metadata: { name: 'web-final-backup', namespace: 'a' },
          spec: { targetRef: { kind: 'ApplicationInstance', name: 'web' } },
        },
      ],
    };
    expect(keys(JSON.stringify(ops))).toEqual(['a/web']);
  });

  it('several YAML documents', () => {
    const doc = (ns: string) =>
      `apiVersion: apps.vworkspace.io/v1alpha1\nkind: ApplicationInstance\nmetadata:\n  name: web\n  namespace: ${ns}\n`;
    expect(keys(`${doc('a')}---\n${doc('b')}`)).toEqual(['a/web', 'b/web']);
  });

  it('names lines are read as before', () => {
    expect(keys('applicationinstance.apps.vworkspace.io/web\nshop/db\n# comment\n')).toEqual(['/web', 'shop/db']);
  });

  it('a document that does not parse, or names a bad namespace, is one clear error', () => {
    expect(() => parseNamesText('{"apiVersion": "v1", "items": [')).toThrow(UsageError);
    expect(() =>
      parseNamesText(
        JSON.stringify({
          kind: 'List',
          items: [{ kind: 'ApplicationInstance', metadata: { name: 'x', namespace: 'Bad_NS' } }],
        }),
      ),
    ).toThrow(/invalid namespace/);
  });
});
