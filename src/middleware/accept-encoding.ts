/**
 * Which compression a client accepts, from its Accept-Encoding header (RFC 9110
 * §12.5.3): `br` or `gzip` by q-value, `br` when they tie, null when neither is
 * acceptable. `*` stands for any coding not named; `x-gzip` is gzip. No header
 * means no compression (what clients without one can actually decode).
 *
 * Browsers send a handful of distinct headers, so answers are cached by value.
 */

export type ContentCoding = 'br' | 'gzip';

const cache = new Map<string, ContentCoding | null>();
const MAX_CACHED = 256;

export function chooseEncoding(header: string | undefined): ContentCoding | null {
  if (header === undefined || header === '') return null;
  let chosen = cache.get(header);
  if (chosen !== undefined) return chosen;
  chosen = parse(header);
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(header, chosen);
  return chosen;
}

function parse(header: string): ContentCoding | null {
  let br: number | undefined;
  let gzip: number | undefined;
  let star: number | undefined;
  for (const part of header.split(',')) {
    const semicolon = part.indexOf(';');
    const coding = (semicolon === -1 ? part : part.slice(0, semicolon)).trim().toLowerCase();
    const q = semicolon === -1 ? 1 : qValue(part.slice(semicolon + 1));
    if (q === null) continue;
    // The highest q for a coding named twice: lenient, and what browsers never send anyway.
    if (coding === 'br') br = Math.max(br ?? 0, q);
    else if (coding === 'gzip' || coding === 'x-gzip') gzip = Math.max(gzip ?? 0, q);
    else if (coding === '*') star = Math.max(star ?? 0, q);
  }
  const brQ = br ?? star ?? 0;
  const gzipQ = gzip ?? star ?? 0;
  if (brQ <= 0 && gzipQ <= 0) return null;
  return brQ >= gzipQ ? 'br' : 'gzip';
}

/** `q=0.8` → 0.8; parameters other than q are ignored; a malformed q drops the entry (null). */
function qValue(params: string): number | null {
  for (const param of params.split(';')) {
    const [name, value] = param.split('=', 2).map((s) => s.trim());
    if (name?.toLowerCase() !== 'q') continue;
    if (value === undefined || !/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(value)) return null;
    return Number(value);
  }
  return 1;
}
