/**
 * Collecting configuration problems with the path of the key that is wrong.
 *
 * Every normalizer takes the raw value, the path it sits at and an `Issues`
 * collector; it reports what it finds and returns a best-effort value so that
 * one run reports every problem, not just the first (Caddy names the path,
 * Fastify reports the instance path; we do both and keep going).
 */
import { KirinError } from '../errors.ts';

export class ConfigPath {
  readonly parts: readonly (string | number)[];
  constructor(parts: readonly (string | number)[] = []) {
    this.parts = parts;
  }
  key(part: string | number): ConfigPath {
    return new ConfigPath([...this.parts, part]);
  }
  toString(): string {
    if (this.parts.length === 0) return '(top level)';
    let out = '';
    for (const part of this.parts) {
      if (typeof part === 'number') out += `[${part}]`;
      else if (/^[A-Za-z_$][\w$]*$/.test(part)) out += out ? `.${part}` : part;
      else out += `[${JSON.stringify(part)}]`;
    }
    return out;
  }
}

export interface ConfigProblem {
  path: string;
  message: string;
  /** The `kirin serve` flag the value came from, when it came from one (e.g. '--max-body'). */
  flag?: string;
}

/** Where a problem is, as the user wrote it: the key path, or the flag and the key it sets. */
export function problemWhere(problem: ConfigProblem): string {
  return problem.flag ? `${problem.flag} (${problem.path})` : problem.path;
}

export class Issues {
  readonly problems: ConfigProblem[] = [];
  readonly file: string;
  constructor(file: string) {
    this.file = file;
  }
  add(at: ConfigPath, message: string): void {
    this.problems.push({ path: at.toString(), message });
  }
  /** Reports `expected`, echoing what was given. */
  expected(at: ConfigPath, expected: string, got: unknown): void {
    this.add(at, `expected ${expected}, got ${describe(got)}`);
  }
  /** Marks the problems whose value came from a command-line flag: `flagFor` maps a key path to its flag. */
  attributeToFlags(flagFor: (path: string) => string | undefined): void {
    for (const problem of this.problems) problem.flag ??= flagFor(problem.path);
  }
  get ok(): boolean {
    return this.problems.length === 0;
  }
  throwIfAny(): void {
    if (!this.ok) throw new ConfigError(this.file, this.problems);
  }
}

export class ConfigError extends KirinError {
  readonly file: string;
  readonly problems: ConfigProblem[];
  constructor(file: string, problems: ConfigProblem[]) {
    // A value from a flag is named by the flag: the file does not hold it.
    const lines = problems.map((p) => (p.flag ? `  ${problemWhere(p)}: ${p.message}` : `  ${file}: ${p.path}: ${p.message}`));
    super('KIRIN_ERR_CONFIG', `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`);
    this.file = file;
    this.problems = problems;
  }
}

export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array (${truncate(JSON.stringify(value))})`;
  if (typeof value === 'string') return JSON.stringify(truncate(value));
  if (typeof value === 'object') return `an object (${truncate(safeJson(value))})`;
  if (typeof value === 'function') return 'a function';
  return `${typeof value} ${String(value)}`;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function truncate(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Reports keys that are not in `known`, with a "did you mean" when one is close. */
export function checkKeys(value: Record<string, unknown>, known: readonly string[], at: ConfigPath, issues: Issues): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const close = closest(key, known);
    issues.add(at.key(key), `unknown option${close ? ` (did you mean "${close}"?)` : ''}; known: ${known.join(', ')}`);
  }
}

/** The candidate a typo most likely meant (a few edits away), or undefined: one rule for keys, commands and flags. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

export function readString(value: unknown, at: ConfigPath, issues: Issues, what = 'a string'): string | undefined {
  if (typeof value === 'string' && value.length > 0) return value;
  issues.expected(at, what, value);
  return undefined;
}

export function readBoolean(value: unknown, at: ConfigPath, issues: Issues): boolean | undefined {
  if (typeof value === 'boolean') return value;
  issues.expected(at, 'true or false', value);
  return undefined;
}

export function readInteger(value: unknown, at: ConfigPath, issues: Issues, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
  issues.expected(at, max === Number.MAX_SAFE_INTEGER ? `a whole number >= ${min}` : `a whole number from ${min} to ${max}`, value);
  return undefined;
}

export function readStringArray(value: unknown, at: ConfigPath, issues: Issues, what = 'a list of strings'): string[] | undefined {
  if (typeof value === 'string') value = [value];
  if (!Array.isArray(value)) {
    issues.expected(at, what, value);
    return undefined;
  }
  const out: string[] = [];
  value.forEach((item, i) => {
    if (typeof item === 'string' && item.length > 0) out.push(item);
    else issues.expected(at.key(i), 'a non-empty string', item);
  });
  return out;
}

export function readEnum<T extends string>(value: unknown, allowed: readonly T[], at: ConfigPath, issues: Issues): T | undefined {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  issues.expected(at, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  return undefined;
}

export function readStringRecord(value: unknown, at: ConfigPath, issues: Issues): Record<string, string> | undefined {
  if (!isPlainObject(value)) {
    issues.expected(at, 'an object of strings', value);
    return undefined;
  }
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item === 'string') out[key] = item;
    else if (typeof item === 'number' || typeof item === 'boolean') out[key] = String(item);
    else issues.expected(at.key(key), 'a string', item);
  }
  return out;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Reads a duration (seconds, or a string with a unit) and returns milliseconds. */
export function readDuration(value: unknown, at: ConfigPath, issues: Issues): number | undefined {
  const ms = parseDuration(value);
  if (ms === undefined) issues.expected(at, "a duration in seconds (30) or with a unit ('500ms', '30s', '5m', '1h')", value);
  return ms;
}

export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.round(value * 1000);
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  if (!match) return undefined;
  return Math.round(Number(match[1]) * DURATION_UNITS[match[2] ?? 's']!);
}

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, k: 1024, mb: 1024 ** 2, m: 1024 ** 2, gb: 1024 ** 3, g: 1024 ** 3 };

/** Reads a size (bytes, or a string with a unit) and returns bytes. */
export function readSize(value: unknown, at: ConfigPath, issues: Issues): number | undefined {
  const bytes = parseSize(value);
  if (bytes === undefined) issues.expected(at, "a size in bytes (1048576) or with a unit ('512kb', '10mb', '1gb')", value);
  return bytes;
}

export function parseSize(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  if (!match) return undefined;
  const unit = SIZE_UNITS[(match[2] || 'b').toLowerCase()];
  if (unit === undefined) return undefined;
  return Math.round(Number(match[1]) * unit);
}
