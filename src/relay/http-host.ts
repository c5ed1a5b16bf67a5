/**
 * The Host of a plain HTTP request, read from the first bytes of a connection
 * the relay has not forwarded yet. Only the request head is looked at, and
 * only as far as the Host line; the home Kirin parses the request for real.
 */
import { parseHost } from '../worker/host.ts';

export type HostName =
  | { kind: 'incomplete' }
  | { kind: 'invalid'; reason: string }
  /** Lower-case host without port. */
  | { kind: 'found'; name: string };

const CRLF = Buffer.from('\r\n');

/** `maxHead`: the largest request head the home accepts (limits.maxHeaderSize). */
export function readHttpHost(data: Buffer, maxHead: number): HostName {
  let lineStart = data.indexOf(CRLF);
  if (lineStart === -1) return data.length >= maxHead ? { kind: 'invalid', reason: 'request line too long' } : { kind: 'incomplete' };
  lineStart += 2;
  for (;;) {
    const lineEnd = data.indexOf(CRLF, lineStart);
    if (lineEnd === -1) return data.length >= maxHead ? { kind: 'invalid', reason: 'request head too large' } : { kind: 'incomplete' };
    if (lineEnd === lineStart) return { kind: 'invalid', reason: 'no Host header' };
    // Field names are ASCII; 'host:' in any case, with no space before the colon (RFC 9112 §5.1).
    if (lineEnd - lineStart > 5 && data.toString('latin1', lineStart, lineStart + 5).toLowerCase() === 'host:') {
      const name = parseHost(data.toString('latin1', lineStart + 5, lineEnd).trim());
      return name === null ? { kind: 'invalid', reason: 'a malformed Host header' } : { kind: 'found', name };
    }
    lineStart = lineEnd + 2;
  }
}
