/**
 * Which precompressed sidecar a client takes, from its Accept-Encoding.
 *
 * q-values are respected (`br;q=0` refuses brotli, `gzip;q=1, br;q=0.5`
 * prefers gzip); at equal weight brotli wins because it is smaller.
 * `*` stands for any coding not named. Identity is always acceptable to us:
 * a client that refuses it (`identity;q=0`) and takes nothing we have still
 * gets the plain file rather than a 406, as nginx and Caddy do.
 */

/** The client's order of preference among the sidecars we may have. */
export type EncodingPreference = 'none' | 'br' | 'gzip' | 'br,gzip' | 'gzip,br';

export function parseAcceptEncoding(header: string): EncodingPreference {
  let br = -1;
  let gzip = -1;
  let any = -1;
  for (const element of header.split(',')) {
    const semicolon = element.indexOf(';');
    const name = (semicolon === -1 ? element : element.slice(0, semicolon)).trim().toLowerCase();
    if (name !== 'br' && name !== 'gzip' && name !== 'x-gzip' && name !== '*') continue;
    const q = semicolon === -1 ? 1 : qValue(element.slice(semicolon + 1));
    if (q < 0) continue;
    if (name === 'br') br = q;
    else if (name === '*') any = q;
    else gzip = Math.max(gzip, q);
  }
  if (br === -1) br = Math.max(any, 0);
  if (gzip === -1) gzip = Math.max(any, 0);
  if (br > 0 && gzip > 0) return br >= gzip ? 'br,gzip' : 'gzip,br';
  if (br > 0) return 'br';
  if (gzip > 0) return 'gzip';
  return 'none';
}

/** The weight in `;q=0.5` parameters: 0 to 1, or -1 when malformed (the element is then ignored). */
function qValue(params: string): number {
  let q = 1;
  for (const param of params.split(';')) {
    const eq = param.indexOf('=');
    if (eq === -1) continue;
    if (param.slice(0, eq).trim().toLowerCase() !== 'q') continue;
    const value = param.slice(eq + 1).trim();
    if (!/^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(value)) return -1;
    q = Number(value);
  }
  return q;
}

const MEMO_LIMIT = 256;
const memo = new Map<string, EncodingPreference>();

/**
 * `parseAcceptEncoding`, memoized by header text: browsers send a handful of
 * distinct values, so the hot path is one Map lookup. The memo is dropped when
 * it fills, so a client sending random values cannot grow it.
 */
export function encodingPreference(header: string | undefined): EncodingPreference {
  if (header === undefined || header === '') return 'none';
  let preference = memo.get(header);
  if (preference === undefined) {
    preference = parseAcceptEncoding(header);
    if (memo.size >= MEMO_LIMIT) memo.clear();
    memo.set(header, preference);
  }
  return preference;
}
