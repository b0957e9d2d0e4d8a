import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Golden files pin every command's output, format by format. `npm run test:update-golden`
// rewrites them (VW_UPDATE_GOLDEN=1); review the diff before committing it.

export const goldenDir = fileURLToPath(new URL('../golden', import.meta.url));

/** What varies from run to run (times, uids, ports, durations) in a stable form. */
export function normalise(text: string): string {
  return text
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, '<time>')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uid>')
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:<port>')
    .replace(/\bin \d+(\.\d+)?(ms|s|m)\b/g, 'in <duration>');
}

export function expectGolden(name: string, actual: string) {
  const file = join(goldenDir, name);
  const text = normalise(actual);
  if (process.env.VW_UPDATE_GOLDEN === '1') {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    return;
  }
  if (!existsSync(file)) throw new Error(`no golden file ${name}: run npm run test:update-golden, then review it`);
  expect(text).toBe(readFileSync(file, 'utf8'));
}
