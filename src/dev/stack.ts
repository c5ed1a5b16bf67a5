/**
 * Reading an error's stack for a person: its frames as file:line:column, the
 * frame that is the user's own code, and a code frame of that line. Node's
 * type stripping keeps a .ts file's positions, and compiled code run with
 * --enable-source-maps (kirin dev turns it on) has its frames mapped back, so
 * the positions here are the ones in the editor.
 */
import { readFileSync } from 'node:fs';
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

/** The place to show: a syntax error's position, else the first frame in the project's own code. */
export function errorLocation(error: unknown): { file: string; line: number; column: number } | null {
  const stack = stackOf(error);
  const syntax = syntaxErrorLocation(stack);
  if (syntax) return syntax;
  return parseStack(stack).find((f) => f.own) ?? null;
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
