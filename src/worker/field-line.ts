/**
 * One HTTP/1.1 field line (RFC 9112 §5), `name ":" OWS value OWS CRLF`, read
 * strictly from a latin1 string: a token name, a value of visible characters,
 * SP, HTAB or obs-text, CRLF line ends only. Shared by the fast lane's request
 * recognizer (simple-request.ts) and the proxy relay's reading of upstream
 * response heads (handlers/proxy/upstream-head.ts): both hand anything this
 * refuses to a full parser (llhttp) instead of guessing.
 */

/** Where the parts of the last line read are. Reused: one per reader. */
export interface FieldSpan {
  /** Index of the ':' (the name is [line start, colon)). */
  colon: number;
  /** The value without surrounding blanks: [start, stop). */
  start: number;
  stop: number;
  /** Index of the line's CR. */
  lineEnd: number;
}

/** tchar (RFC 9110 §5.6.2), for field names. */
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN[c.charCodeAt(0)] = 1;

/** Reads the field line starting at `pos` into `span`; false when it is not one. */
export function readFieldLine(text: string, pos: number, span: FieldSpan): boolean {
  const lineEnd = text.indexOf('\r\n', pos);
  const colon = text.indexOf(':', pos);
  if (lineEnd === -1 || colon === -1 || colon > lineEnd || colon === pos) return false;
  for (let i = pos; i < colon; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) return false;
  }
  let start = colon + 1;
  let stop = lineEnd;
  while (start < stop && isBlank(text.charCodeAt(start))) start++;
  while (stop > start && isBlank(text.charCodeAt(stop - 1))) stop--;
  for (let i = start; i < stop; i++) {
    const c = text.charCodeAt(i);
    // field-vchar, SP, HTAB (obs-text included); a lone CR or LF, NUL or DEL is not.
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
  }
  span.colon = colon;
  span.start = start;
  span.stop = stop;
  span.lineEnd = lineEnd;
  return true;
}

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09;
}
