/**
 * The Range header (RFC 9110 §14), for one representation of `size` bytes.
 *
 * - One satisfiable range → the bytes to send (206).
 * - A range that starts past the end (or `-0`, or any range of an empty file)
 *   → 'unsatisfiable' (416 with `Content-Range: bytes *\/size`).
 * - Anything else → 'ignore' (the whole file, 200): another unit, a header
 *   that does not parse, and also several ranges — RFC 9110 lets a server
 *   ignore Range, and a multipart/byteranges body is rarely asked for
 *   (browsers and download managers ask for one range) and was a classic
 *   amplification target (many overlapping ranges of one large file).
 */

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

export type RangeResult = ByteRange | 'unsatisfiable' | 'ignore';

const SPEC = /^(\d*)-(\d*)$/;

export function parseRange(header: string, size: number): RangeResult {
  const value = header.trim();
  if (value.length < 7 || value.slice(0, 6).toLowerCase() !== 'bytes=') return 'ignore';
  let single: string | null = null;
  for (const element of value.slice(6).split(',')) {
    const spec = element.trim();
    if (spec === '') continue;
    if (!SPEC.test(spec) || spec === '-') return 'ignore';
    if (single !== null) return 'ignore';
    single = spec;
  }
  if (single === null) return 'ignore';
  const dash = single.indexOf('-');
  const first = single.slice(0, dash);
  const last = single.slice(dash + 1);
  if (first === '') {
    // Suffix range: the last N bytes.
    const length = Number(last);
    if (length === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return 'ignore'; // reversed: not a valid range
  if (start >= size) return 'unsatisfiable';
  return { start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) };
}
