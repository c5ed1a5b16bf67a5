/**
 * systemd unit files: writing them (`kirin install`) and reading back the
 * settings `kirin check` cares about (who the service runs as, what it may do).
 */

/** One `[Section]` with its `Key=Value` lines, in order; a key may repeat. */
export interface UnitSection {
  name: string;
  entries: [key: string, value: string][];
}

export function renderUnit(header: string[], sections: UnitSection[]): string {
  const lines = header.map((line) => `# ${line}`.trimEnd());
  for (const section of sections) {
    if (lines.length > 0) lines.push('');
    lines.push(`[${section.name}]`);
    for (const [key, value] of section.entries) lines.push(`${key}=${value}`);
  }
  return `${lines.join('\n')}\n`;
}

export function parseUnit(text: string): UnitSection[] {
  const sections: UnitSection[] = [];
  let current: UnitSection | null = null;
  // Backslash-newline continues a line (systemd.syntax(7)).
  const joined = text.replace(/\\\r?\n/g, ' ');
  for (const raw of joined.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = { name: header[1]!, entries: [] };
      sections.push(current);
      continue;
    }
    const eq = line.indexOf('=');
    if (current && eq > 0) current.entries.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  return sections;
}

/** Every value of `key` in `section` (an empty assignment resets the list, as systemd does). */
export function unitValues(sections: UnitSection[], section: string, key: string): string[] {
  let values: string[] = [];
  for (const s of sections) {
    if (s.name !== section) continue;
    for (const [k, v] of s.entries) {
      if (k !== key) continue;
      if (v === '') values = [];
      else values.push(v);
    }
  }
  return values;
}

/** Splits `"A=1 2" B=3` the way systemd splits Environment= and ExecStart= words. */
export function splitUnitWords(value: string): string[] {
  const words: string[] = [];
  const pattern = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (const match of value.matchAll(pattern)) {
    words.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : (match[2] ?? match[3]!));
  }
  return words;
}

/** Quotes a word for ExecStart= when it needs it; `%` and `$` are escaped so systemd takes them literally. */
export function quoteUnitWord(word: string): string {
  const escaped = word.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped) ? escaped : `"${escaped.replace(/(["\\])/g, '\\$1')}"`;
}
