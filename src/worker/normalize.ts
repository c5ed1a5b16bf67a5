/**
 * The one path normalizer. Every guard and handler sees its output, so that
 * `/admin%2Fx`, `//admin/x`, `/admin/./x` and `/a/../admin/x` cannot reach
 * something that `/admin/x` would be stopped at.
 *
 * Rules (nginx's and Caddy's, made strict where they were bitten):
 * - the target must be origin-form ('/…'); absolute-form and '*' are refused;
 * - percent-escapes are decoded exactly once; what they decode to is never
 *   decoded again (`%252e` stays the three characters `%2e`);
 * - an encoded slash or backslash (`%2F`, `%5C`), a raw backslash, NUL or any
 *   control character, an invalid escape or invalid UTF-8 is refused;
 * - repeated slashes are merged; `.` and `..` segments are resolved; a `..`
 *   that would climb above the root is refused.
 */

export interface NormalizedTarget {
  /** Decoded path. */
  path: string;
  /** The same path, percent-encoded where needed (safe to forward). */
  encodedPath: string;
  /** '?…' or ''. */
  query: string;
}

export type NormalizeResult = NormalizedTarget | string;

/** Characters that may appear raw in a path segment (RFC 3986 pchar plus '/'), excluding '%'. */
const PLAIN = new Uint8Array(128);
for (const c of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/") PLAIN[c.charCodeAt(0)] = 1;

/**
 * Normalizes a request target. Returns the normalized parts, or a short reason
 * (a string) why the target is refused with 400.
 */
export function normalizeTarget(target: string): NormalizeResult {
  const out: NormalizedTarget = { path: '', encodedPath: '', query: '' };
  const refused = normalizeTargetInto(target, out);
  return refused ?? out;
}

/**
 * The same, writing into `out` (the request path reuses one object); returns
 * the reason for a 400, or null when `out` holds the result.
 */
export function normalizeTargetInto(target: string, out: NormalizedTarget): string | null {
  if (target.charCodeAt(0) !== 47 /* / */) {
    return target === '*' ? 'asterisk-form is only for OPTIONS' : 'request target must start with "/"';
  }
  let queryStart = target.indexOf('?');
  if (queryStart === -1) queryStart = target.length;
  // Fast path: only plain characters, no '//' and no dot segments: nothing to do.
  let clean = true;
  let previous = 0;
  for (let i = 0; i < queryStart; i++) {
    const c = target.charCodeAt(i);
    if (c >= 128 || PLAIN[c] === 0) {
      clean = false;
      break;
    }
    if (c === 47 && previous === 47) {
      clean = false;
      break;
    }
    if (c === 46 /* . */ && previous === 47) {
      clean = false;
      break;
    }
    previous = c;
  }
  const query = queryStart === target.length ? '' : target.slice(queryStart);
  if (query.includes('#')) return 'fragment in request target';
  if (clean) {
    const path = queryStart === target.length ? target : target.slice(0, queryStart);
    out.path = path;
    out.encodedPath = path;
    out.query = query;
    return null;
  }
  const slow = normalizeSlow(target.slice(0, queryStart), query);
  if (typeof slow === 'string') return slow;
  out.path = slow.path;
  out.encodedPath = slow.encodedPath;
  out.query = slow.query;
  return null;
}

function normalizeSlow(raw: string, query: string): NormalizeResult {
  const decoded = decodeOnce(raw);
  if (typeof decoded !== 'string') return decoded.reason;
  const segments: string[] = [];
  const parts = decoded.split('/');
  // parts[0] is '' (the path starts with '/').
  for (let i = 1; i < parts.length; i++) {
    const segment = parts[i]!;
    const last = i === parts.length - 1;
    if (segment === '' && !last) continue; // merge '//'
    if (segment === '.') {
      if (last) segments.push('');
      continue;
    }
    if (segment === '..') {
      if (segments.length === 0) return 'path climbs above the root';
      segments.pop();
      if (last) segments.push('');
      continue;
    }
    segments.push(segment);
  }
  const path = `/${segments.join('/')}`;
  return { path, encodedPath: encodePath(path), query };
}

interface DecodeFailure {
  reason: string;
}

function decodeOnce(raw: string): string | DecodeFailure {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 37 /* % */) {
      const hi = hexValue(raw.charCodeAt(i + 1));
      const lo = hexValue(raw.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return { reason: 'invalid percent-encoding in path' };
      const byte = hi * 16 + lo;
      if (byte === 0x2f) return { reason: 'encoded slash (%2F) in path' };
      if (byte === 0x5c) return { reason: 'encoded backslash (%5C) in path' };
      if (byte < 0x20 || byte === 0x7f) return { reason: 'control character in path' };
      bytes.push(byte);
      i += 2;
    } else if (c === 92 /* \ */) {
      return { reason: 'backslash in path' };
    } else if (c < 0x20 || c === 0x7f) {
      return { reason: 'control character in path' };
    } else if (c < 128) {
      bytes.push(c);
    } else {
      // Raw non-ASCII (HTTP/2 or a lenient client): take its UTF-8 bytes.
      for (const b of Buffer.from(raw[i]!, 'utf8')) bytes.push(b);
    }
  }
  const buffer = Buffer.from(bytes);
  const text = buffer.toString('utf8');
  // Invalid UTF-8 turns into U+FFFD; refuse it rather than guess.
  if (text.includes('\ufffd') && !buffer.includes(Buffer.from('\ufffd', 'utf8'))) return { reason: 'invalid UTF-8 in path' };
  return text;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** Percent-encodes a decoded path for forwarding: everything but pchar and '/'. */
export function encodePath(path: string): string {
  let plain = true;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c >= 128 || PLAIN[c] === 0) {
      plain = false;
      break;
    }
  }
  if (plain) return path;
  let out = '';
  for (const byte of Buffer.from(path, 'utf8')) {
    out += byte < 128 && PLAIN[byte] === 1 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
