import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { completions } from '../../lib/cli/completion';
import { rbacTable, tableBegin, tableEnd } from '../../lib/cli/rbac-table';
import { runProgram } from '../../lib/cli/run';
import { commands, usage } from '../../plugins/vw/commands';
import { parseRbac } from '../../plugins/vw/rbac';
import { repoRoot } from '../helpers/plugins';
import { testDeps, text } from '../helpers/test-deps';

// kubectl vw rbac and the README's table come from the declarations the preflight checks.

const rbac = async (argv: string[]) => {
  const t = testDeps();
  const code = await runProgram(['rbac', ...argv], commands, t.deps, { usage });
  return { code, stdout: text(t.out.stdout), stderr: text(t.out.stderr) };
};

describe('the README RBAC table', () => {
  it('is exactly what the declarations give (npm run docs:rbac writes it)', async () => {
    const readme = readFileSync(`${repoRoot}/README.md`, 'utf8');
    const shown = readme.slice(readme.indexOf(tableBegin) + tableBegin.length, readme.indexOf(tableEnd)).trim();
    const quiet = testDeps().deps;
    expect(shown).toBe(await rbacTable((argv) => parseRbac(argv, quiet)));
  });
});

describe('kubectl vw rbac', () => {
  type Doc = {
    kind: string;
    metadata: { name: string; namespace?: string };
    rules?: { resources: string[]; verbs: string[] }[];
  };
  const docs = (stdout: string) => (yaml.loadAll(stdout) as Doc[]).filter(Boolean);
  const rulesOf = (d: Doc[], kind: string, ns?: string) =>
    d.find((x) => x.kind === kind && x.metadata.namespace === ns)?.rules ?? [];

  it('prints a ClusterRole and Roles as YAML kubectl applies, each rule commented with why', async () => {
    const r = await rbac(['backup', '-n', 'shop', '--all', '--retry-failed']);
    expect(r.code).toBe(0);
    const d = docs(r.stdout);
    expect(d.map((x) => `${x.kind}/${x.metadata.namespace ?? ''}`)).toEqual([
      'ClusterRole/',
      'Role/kube-system',
      'Role/shop',
      'Role/velero',
    ]);
    expect(rulesOf(d, 'Role', 'shop')).toContainEqual(
      expect.objectContaining({ resources: ['operations'], verbs: ['get', 'list', 'watch', 'create', 'delete'] }),
    );
    expect(r.stdout).toMatch(/# .*a Failed Operation, deleted to retry/);
  });

  it('flags change what it prints as they change what the command does', async () => {
    const plain = docs((await rbac(['backup', '--ttl', '8760h'])).stdout);
    const retry = docs((await rbac(['backup', '--ttl', '8760h', '--retry-failed'])).stdout);
    const dry = docs((await rbac(['backup', '--ttl', '8760h', '--dry-run=client'])).stdout);
    const verbsOn = (d: Doc[], res: string) => rulesOf(d, 'ClusterRole').find((x) => x.resources[0] === res)?.verbs;
    expect(verbsOn(plain, 'operations')).not.toContain('delete');
    expect(verbsOn(retry, 'operations')).toContain('delete');
    expect(verbsOn(dry, 'operations')).toEqual(['list']);
    expect(dry.some((x) => x.metadata.namespace === 'kube-system')).toBe(false); // a dry run takes no lock
  });

  it('binds a subject: a ServiceAccount, a user or a group', async () => {
    const sa = docs((await rbac(['pause', '--all', '--serviceaccount', 'ops:platform'])).stdout);
    expect(sa.map((x) => x.kind)).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);
    const binding = sa[1] as unknown as { subjects: unknown[]; roleRef: { name: string } };
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'platform', namespace: 'ops' }]);
    expect(binding.roleRef.name).toBe('kubectl-vw-pause');
    const user = docs((await rbac(['status', '--user', 'alice', '--role-name', 'vw-read'])).stdout);
    expect(user.find((x) => x.kind === 'ClusterRoleBinding')).toMatchObject({
      metadata: { name: 'vw-read:alice' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice' }],
    });
  });

  it('bad input is one line and exit 2', async () => {
    for (const argv of [['frobnicate'], ['pause', '--serviceaccount', 'nocolon'], ['pause', '--bogus']]) {
      const r = await rbac(argv);
      expect({ argv, code: r.code }).toEqual({ argv, code: 2 });
      expect(r.stderr).toMatch(/^error: /);
    }
  });

  it('--help shows the command, its flags and rbac examples', async () => {
    const r = await rbac(['purge', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--delete-apps/);
    expect(r.stdout).toMatch(/--serviceaccount/);
    expect(r.stdout).toMatch(/kubectl vw rbac purge --delete-apps --serviceaccount ops:platform/);
  });

  it('completes the commands, then their flags and its own', async () => {
    const deps = testDeps().deps;
    expect(await completions(['rbac', 'ba'], commands, deps)).toEqual([expect.stringMatching(/^backup\t/)]);
    expect(await completions(['rbac', 'backup', '--retry'], commands, deps)).toEqual(['--retry-failed']);
    expect(await completions(['rbac', 'purge', '--servicea'], commands, deps)).toEqual(['--serviceaccount']);
    expect(await completions(['rbac', 'backup', '--dry-run', ''], commands, deps)).toEqual([
      'none',
      'client',
      'server',
    ]);
  });
});
