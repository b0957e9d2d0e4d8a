// Writes the README's RBAC table from the declarations the preflight checks (lib/steps/needs.ts),
// through each command's own flags: npm run docs:rbac. test/unit/rbac.test.ts checks it is current.
import { readFileSync, writeFileSync } from 'node:fs';
import { rbacTable, withTable } from '../lib/cli/rbac-table';
import type { Deps } from '../lib/deps';
import { parseRbac } from '../plugins/vw/rbac';

const readme = new URL('../README.md', import.meta.url);
const quiet = { io: { out: () => undefined } } as unknown as Deps;
const table = await rbacTable((argv) => parseRbac(argv, quiet));
writeFileSync(readme, withTable(readFileSync(readme, 'utf8'), table));
process.stdout.write(`README.md: RBAC table of ${table.split('\n').length - 2} command lines\n`);
