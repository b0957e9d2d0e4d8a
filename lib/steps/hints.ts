// Hints name commands to run next. Each is built from the run's own flags, so that following one
// acts where the run acted (its context), and keeps what the user chose (the TTL of the backups).

import { finalBackupSuffix } from '../operator/names';

/** The run's own flags, as the commands its hints name must repeat them. */
export interface HintFlags {
  /** Flags every named command repeats: those that chose the cluster, and the judge's margin. */
  common?: string[];
  /** The run's final-backup flags (--ttl 720h, --storage-location aws-dr), for a backup command. */
  backup?: string[];
}

/** The procedure's step 2 manifest keeps backups a year: only when nothing says what the user chose. */
export const procedureTtl = '8760h';

/** A word as a POSIX shell reads it back: quoted only when it must be. */
export const shellWord = (w: string) => (/^[\w./:=@%+,-]+$/.test(w) ? w : `'${w.replaceAll("'", `'\\''`)}'`);

/** `kubectl vw <verb> <args...>`, ready to paste. */
export const vwCommand = (verb: string, args: string[]) => ['kubectl vw', verb, ...args.map(shellWord)].join(' ');

/** The backup flags with the next free --name-suffix: `final-backup-2` after `final-backup`. */
export function withNextSuffix(flags: string[]): string[] {
  const at = flags.indexOf('--name-suffix');
  const suffix = at >= 0 ? (flags[at + 1] ?? finalBackupSuffix) : finalBackupSuffix;
  const next = /-(\d+)$/.test(suffix)
    ? suffix.replace(/-(\d+)$/, (_m, n: string) => `-${Number(n) + 1}`)
    : `${suffix}-2`;
  const rest = at >= 0 ? [...flags.slice(0, at), ...flags.slice(at + 2)] : flags;
  return [...rest, '--name-suffix', next];
}
