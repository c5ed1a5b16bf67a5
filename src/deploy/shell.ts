/**
 * Building the POSIX sh scripts that run on a host. Every value that goes into
 * a script passes through `shellQuote`; nothing is interpolated raw.
 */

/** Quotes a word for sh: 'it'\''s' — safe for any bytes. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A command line from words, each quoted. */
export function command(...words: string[]): string {
  return words.map(shellQuote).join(' ');
}

/** Marks a line of machine-read output among a script's other output. */
export const FACT_PREFIX = 'kirin-fact ';

/** `echo` of a fact the deploy reads back: kirin-fact key=value. */
export function fact(key: string, valueExpression: string): string {
  return `printf '%s\\n' "${FACT_PREFIX}${key}=${valueExpression}"`;
}

/** Reads the facts a script printed. */
export function readFacts(stdout: string): Record<string, string> {
  const facts: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    if (!line.startsWith(FACT_PREFIX)) continue;
    const rest = line.slice(FACT_PREFIX.length);
    const eq = rest.indexOf('=');
    if (eq > 0) facts[rest.slice(0, eq)] = rest.slice(eq + 1);
  }
  return facts;
}
