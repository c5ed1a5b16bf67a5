/**
 * Reading an error's stack for a person: its frames as file:line:column, the
 * frame that is the user's own code, and a code frame of that line. Node's
 * type stripping keeps a .ts file's positions, and compiled code run with
 * --enable-source-maps (kirin dev turns it on) has its frames mapped back, so
 * the positions here are the ones in the editor.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isProjectFile } from './module-graph.ts';

export interface StackFrame {
  /** The function, or '' for top-level code. */
  fn: string;
  /** An absolute path, or what the stack said ('node:internal/…'). */
  file: string;
  line: number;
  column: number;
  /** A file of the project, not Node's or a dependency's. */
  own: boolean;
}

export interface CodeFrame {
  file: string;
  line: number;
  column: number;
  /** The lines around it, numbered; `focus` marks the failing one. */
  lines: { number: number; text: string; focus: boolean }[];
}

const FRAME = /^\s*at (?:(.*?) \()?(.+?):(\d+):(\d+)\)?$/;
/** A syntax error's stack starts with "file:///app.ts:3", the source line and a caret under the column. */
const SYNTAX_HEADER = /^(file:\/\/\S+|\/\S+):(\d+)$/;

export function parseStack(stack: string): StackFrame[] {
  const frames: StackFrame[] = [];
  for (const text of stack.split('\n')) {
    const match = FRAME.exec(text);
    if (!match) continue;
    const file = toPath(match[2]!);
    frames.push({ fn: match[1] ?? '', file, line: Number(match[3]), column: Number(match[4]), own: isProjectFile(file) });
  }
  return frames;
}

/** Where a syntax error is, from the header of its stack; null for other errors. */
export function syntaxErrorLocation(stack: string): { file: string; line: number; column: number } | null {
  const lines = stack.split('\n');
  const header = SYNTAX_HEADER.exec(lines[0] ?? '');
  if (!header) return null;
  // Node prints the lines around it, the caret line under the failing one.
  const caretLine = lines.slice(1, 6).find((line) => /^\s*\^+\s*$/.test(line));
  const caret = caretLine === undefined ? -1 : caretLine.indexOf('^');
  return { file: toPath(header[1]!), line: Number(header[2]), column: caret === -1 ? 1 : caret + 1 };
}

/** The error's message without the syntax-error header Node puts before it. */
export function stackWithoutHeader(stack: string): string {
  if (!SYNTAX_HEADER.test(stack.split('\n')[0] ?? '')) return stack;
  const blank = stack.indexOf('\n\n');
  return blank === -1 ? stack : stack.slice(blank + 2);
}

/** Node's ESM loader names what it could not find and who imported it, but its stack holds only loader frames. */
const NOT_FOUND = /^Cannot find (module|package) '([^']+)' imported from (.+)$/m;
/** A specifier in quotes after `from`, `import` or `import(`, `require(`, `export … from`: the quote's index is the column. */
const SPECIFIER = /(?:\bfrom|\bimport|\brequire)\s*\(?\s*(['"])([^'"\n]+)\1/g;

/**
 * Where an import that did not resolve is written: the importing file's line whose specifier is
 * the missing file (resolved against the importer) or names the missing package; null for other errors.
 */
export function moduleNotFoundLocation(error: unknown): { file: string; line: number; column: number } | null {
  if ((error as NodeJS.ErrnoException | null)?.code !== 'ERR_MODULE_NOT_FOUND') return null;
  const match = NOT_FOUND.exec((error as Error).message);
  if (!match) return null;
  const [, kind, missing, importer] = match as unknown as [string, 'module' | 'package', string, string];
  const file = toPath(importer.trim());
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const missingPath = toPath(missing);
  const isMissing = (specifier: string) => {
    if (kind === 'package') return specifier === missing || specifier.startsWith(`${missing}/`);
    const path = specifier.startsWith('file:') ? toPath(specifier) : specifier.startsWith('.') || isAbsolute(specifier) ? resolve(dirname(file), specifier) : null;
    return path === missingPath;
  };
  const lines = source.split('\n');
  for (let i = 0; i < lines.length; i++) {
    for (const found of lines[i]!.matchAll(SPECIFIER)) {
      if (isMissing(found[2]!)) return { file, line: i + 1, column: found.index + found[0].length - found[2]!.length - 1 };
    }
  }
  return null;
}

/** The place to show: a syntax error's position, a missing import's line, else the first frame in the project's own code. */
export function errorLocation(error: unknown): { file: string; line: number; column: number } | null {
  const stack = stackOf(error);
  return syntaxErrorLocation(stack) ?? moduleNotFoundLocation(error) ?? parseStack(stack).find((f) => f.own) ?? null;
}

export function stackOf(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}

const CONTEXT_LINES = 3;

export function codeFrame(location: { file: string; line: number; column: number }): CodeFrame | null {
  let source: string;
  try {
    source = readFileSync(location.file, 'utf8');
  } catch {
    return null;
  }
  const all = source.split('\n');
  if (location.line < 1 || location.line > all.length) return null;
  const first = Math.max(1, location.line - CONTEXT_LINES);
  const last = Math.min(all.length, location.line + CONTEXT_LINES);
  const lines = [];
  for (let n = first; n <= last; n++) lines.push({ number: n, text: all[n - 1]!.replace(/\r$/, ''), focus: n === location.line });
  return { ...location, lines };
}

/** A code frame as text for the terminal: numbered lines, a caret under the column. */
export function codeFrameText(frame: CodeFrame): string {
  const width = String(frame.lines.at(-1)!.number).length;
  const out = [`${frame.file}:${frame.line}:${frame.column}`];
  for (const line of frame.lines) {
    out.push(`${line.focus ? '>' : ' '} ${String(line.number).padStart(width)} | ${line.text}`);
    if (line.focus) out.push(`  ${' '.repeat(width)} | ${' '.repeat(Math.max(0, frame.column - 1))}^`);
  }
  return out.join('\n');
}

function toPath(location: string): string {
  if (!location.startsWith('file:')) return location;
  try {
    return fileURLToPath(location);
  } catch {
    return location;
  }
}
