/**
 * What a bench hands back: its printed text and its targets (measured against
 * what the issues require), for bench/run.ts's PASS/FAIL summary.
 */

export interface Target {
  bench: string;
  name: string;
  measured: string;
  required: string;
  pass: boolean;
}

export interface BenchResult {
  name: string;
  targets: Target[];
  /** Everything the bench printed. */
  text: string;
}

/** Prints to stdout as it goes and keeps the text for the result (and notes files). */
export class Printer {
  #text = '';

  line(text = ''): void {
    process.stdout.write(`${text}\n`);
    this.#text += `${text}\n`;
  }

  get text(): string {
    return this.#text;
  }
}

/** `value / base >= min`, e.g. Kirin's req/s at least 0.95 × raw node:http. */
export function ratioAtLeast(bench: string, name: string, value: number, base: number, min: number, baseName: string): Target {
  const ratio = base > 0 ? value / base : 0;
  return { bench, name, measured: `${ratio.toFixed(2)}× ${baseName}`, required: `>= ${min}× ${baseName}`, pass: ratio >= min };
}

/** `value > other`, e.g. Kirin's req/s above @hono/node-server's. */
export function above(bench: string, name: string, value: number, other: number, otherName: string, unit: string): Target {
  return { bench, name, measured: `${fmt(value)} vs ${fmt(other)} ${unit}`, required: `> ${otherName}`, pass: value > other };
}

/** A target that could not be measured (a peer missing, a handler not built yet). */
export function notMeasured(bench: string, name: string, required: string, why: string): Target {
  return { bench, name, measured: `not measured: ${why}`, required, pass: false };
}

/** "3/3 runs", or "0/3 runs, DISTURBED" when the median had to include disturbed runs. */
export function runsNote(result: { counted: number; runs: unknown[]; disturbed: boolean }): string {
  return result.disturbed ? `0/${result.runs.length} clean, DISTURBED` : `${result.counted}/${result.runs.length} clean`;
}

/** Aligns rows under headers; numbers right-aligned. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((row) => row.map((c) => (typeof c === 'number' ? fmt(c) : c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const numeric = headers.map((_, i) => rows.length > 0 && cells.slice(1).every((row) => /^-?[\d.,]+×?$/.test(row[i] ?? '')));
  const render = (row: string[]) => row.map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  return [render(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(render)].join('\n');
}

/** 128934 → "128,934"; 0.8271 → "0.83"; 12.5 → "12.5". */
export function fmt(value: number): string {
  if (Number.isInteger(value) || Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
