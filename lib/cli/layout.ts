// Text laid out for a screen of a given width: word-wrapped, indented, and long lists summarised.
// Everything here is linear in the length of the text.

import { type Noun, plural } from '../plural';
// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes are what is being measured past
const ansi = /\x1b\[[0-9;]*m/g;
export const visibleLength = (s: string) => s.replace(ansi, '').length;

/**
 * Word-wraps text to width. A word longer than the width (a long name, a timestamp, a URL) is
 * never broken: it runs past the width on a line of its own, so it can still be read and grepped.
 * Existing line breaks are kept. Escape codes are not counted (a line holds one style).
 */
export function wrap(text: string, width: number): string[] {
  const w = Math.max(1, width);
  const out: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const rest of paragraph.split(' ')) {
      if (!line) line = rest;
      else if (visibleLength(line) + 1 + visibleLength(rest) <= w) line += ` ${rest}`;
      else {
        out.push(line);
        line = rest;
      }
    }
    out.push(line);
  }
  return out;
}

/** "  Label:  text" wrapped to width, continuation lines hanging under the text. */
export function labelled(
  indent: number,
  label: string,
  text: string,
  width: number,
  labelWidth = label.length,
): string[] {
  const lead = `${' '.repeat(indent)}${label.padEnd(labelWidth)}`;
  const lines = wrap(text, Math.max(20, width - lead.length));
  return lines.map((l, i) => `${i ? ' '.repeat(lead.length) : lead}${l}`.trimEnd());
}

/** Lines of text, each wrapped, continuation lines indented like the first plus `hang`. */
export function indented(indent: number, text: string, width: number, hang = 2): string[] {
  const lines = wrap(text, Math.max(20, width - indent - hang));
  return lines.map((l, i) => `${' '.repeat(indent + (i ? hang : 0))}${l}`.trimEnd());
}

/** A long list in a sentence: "12 PVs: a, b, c, ... (-o wide for all)"; in full when wide. */
export function summarise(items: string[], noun: Noun, wide: boolean, shown = 3): string {
  if (!items.length) return `no ${noun.many ?? `${noun.one}s`}`;
  const head = `${plural(items.length, noun.one, noun.many)}${noun.suffix ?? ''}`;
  if (wide || items.length <= shown) return `${head}: ${items.join(', ')}`;
  return `${head}: ${items.slice(0, shown).join(', ')}, ... (-o wide for all)`;
}
