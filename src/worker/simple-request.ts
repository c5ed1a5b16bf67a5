/**
 * Recognizes the plainest HTTP/1.1 request there is — one complete
 * `GET`/`HEAD` head with no body, no conditions and no upgrade, alone in the
 * bytes that arrived — so the fast lane (fast-lane.ts) can answer it without
 * node:http's request and response objects.
 *
 * This is a recognizer, not a parser: it never refuses anything. Whatever it
 * does not positively recognize — a malformed line, a header it does not know
 * how to honour, two requests in one read, half a request — makes it return
 * false, and the bytes go to node:http's own parser (llhttp), which answers
 * exactly as it would have without the fast lane (400, 431, 413 …). So it is
 * strict where llhttp is lenient: HTTP/1.1 only, CRLF line ends only, no
 * obs-fold, token header names, visible ASCII in the target.
 */

import { readFieldLine, type FieldSpan } from './field-line.ts';
import { HOP_BY_HOP_FIELDS } from './http-fields.ts';

/** The parts of a recognized request the fast lane needs. Reused between requests (one object per worker). */
export interface SimpleRequest {
  method: 'GET' | 'HEAD';
  /** The request target as sent (origin-form: starts with '/'). */
  target: string;
  /** The one Host header's value. */
  host: string;
  acceptEncoding: string | undefined;
  userAgent: string | undefined;
  /** X-Forwarded-For, for the access log behind trusted proxies. */
  forwardedFor: string | undefined;
  /** X-Forwarded-Proto, which a trusted proxy may send. */
  forwardedProto: string | undefined;
  /** The whole head as latin1 text, for a relay that forwards its field lines (proxy/relay.ts). */
  head: string;
  /** Where the field lines start in `head`; they end where the final CRLF starts (`head.length - 2`). */
  fieldsStart: number;
  /** The Host line in `head`: [start, end), CRLF included. */
  hostLine: [number, number];
  /**
   * The field lines a forwarder leaves out, as [start, end) pairs in `head`
   * (CRLF included), in order: hop-by-hop fields and the X-Forwarded-For/Proto
   * it states itself. Valid until the next request is recognized.
   */
  dropped: number[];
}

export function emptySimpleRequest(): SimpleRequest {
  return {
    method: 'GET',
    target: '',
    host: '',
    acceptEncoding: undefined,
    userAgent: undefined,
    forwardedFor: undefined,
    forwardedProto: undefined,
    head: '',
    fieldsStart: 0,
    hostLine: [0, 0],
    dropped: [],
  };
}

/**
 * What a header does to the fast lane. Headers not listed are carried by the
 * request but change nothing about a static answer (Accept, Cookie, Referer …).
 */
const HOST = 1;
const ACCEPT_ENCODING = 2;
const USER_AGENT = 3;
const FORWARDED_FOR = 4;
const CONNECTION = 5;
const FORWARDED_PROTO = 6;
/** Describes the client's connection to Kirin, not the request: a forwarder drops it (RFC 9110 §7.6.1). */
const HOP_BY_HOP = 7;
/** The answer depends on it (conditions, ranges), or the request has a body, or it asks for another protocol: node:http's path. */
const NOT_SIMPLE = 8;

const EFFECTS = new Map<string, number>([
  ['host', HOST],
  ['accept-encoding', ACCEPT_ENCODING],
  ['user-agent', USER_AGENT],
  ['x-forwarded-for', FORWARDED_FOR],
  ['connection', CONNECTION],
  ['x-forwarded-proto', FORWARDED_PROTO],
  // A body, a protocol switch or an expectation: node:http's to handle. The other hop-by-hop fields are left out when forwarding.
  ...[...HOP_BY_HOP_FIELDS].filter((name) => name !== 'connection').map((name): [string, number] => [name, name === 'transfer-encoding' || name === 'upgrade' || name === 'expect' ? NOT_SIMPLE : HOP_BY_HOP]),
  ['content-length', NOT_SIMPLE],
  ['range', NOT_SIMPLE],
  ['if-range', NOT_SIMPLE],
  ['if-match', NOT_SIMPLE],
  ['if-none-match', NOT_SIMPLE],
  ['if-modified-since', NOT_SIMPLE],
  ['if-unmodified-since', NOT_SIMPLE],
  // A trusted proxy may name another site or client with these; the full path knows how to weigh them.
  ['x-forwarded-host', NOT_SIMPLE],
  ['forwarded', NOT_SIMPLE],
]);

const EFFECT_NAME_LENGTHS = new Set([...EFFECTS.keys()].map((name) => name.length));

const VERSION = ' HTTP/1.1\r\n';

/**
 * True when `text` (the bytes of one read, as latin1) is exactly one simple
 * request with at most `maxHeaders` header fields; its parts are then in `into`.
 */
export function recognizeSimpleRequest(text: string, maxHeaders: number, into: SimpleRequest): boolean {
  const end = text.length - 4;
  // Exactly one head, ending where the read ends: no body, no second (pipelined) request, nothing missing.
  if (end < 0 || text.indexOf('\r\n\r\n') !== end) return false;
  let pos: number;
  if (text.startsWith('GET /')) {
    into.method = 'GET';
    pos = 4;
  } else if (text.startsWith('HEAD /')) {
    into.method = 'HEAD';
    pos = 5;
  } else return false;
  const space = text.indexOf(' ', pos);
  if (space === -1) return false;
  for (let i = pos; i < space; i++) {
    const c = text.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  if (!text.startsWith(VERSION, space)) return false;
  into.target = text.slice(pos, space);
  into.acceptEncoding = undefined;
  into.userAgent = undefined;
  into.forwardedFor = undefined;
  into.forwardedProto = undefined;
  const dropped = into.dropped;
  dropped.length = 0;
  const span = SPAN;
  let host: string | undefined;
  let fields = 0;
  pos = space + VERSION.length;
  into.fieldsStart = pos;
  // `end + 2` is where the empty line starts.
  while (pos < end + 2) {
    if (++fields > maxHeaders || !readFieldLine(text, pos, span)) return false;
    const { colon, lineEnd } = span;
    // Most fields (Accept, Cookie, Sec-Fetch-*) are none of those named above: their length says so without a lower-cased copy.
    const effect = EFFECT_NAME_LENGTHS.has(colon - pos) ? EFFECTS.get(text.slice(pos, colon).toLowerCase()) : undefined;
    if (effect !== undefined) {
      const value = text.slice(span.start, span.stop);
      switch (effect) {
        case HOST:
          if (host !== undefined) return false;
          host = value;
          into.hostLine[0] = pos;
          into.hostLine[1] = lineEnd + 2;
          break;
        case ACCEPT_ENCODING:
          // Several Accept-Encoding lines combine; the full path does that.
          if (into.acceptEncoding !== undefined) return false;
          into.acceptEncoding = value;
          break;
        case USER_AGENT:
          into.userAgent = value;
          break;
        case FORWARDED_FOR:
          if (into.forwardedFor !== undefined) return false;
          into.forwardedFor = value;
          dropped.push(pos, lineEnd + 2);
          break;
        case FORWARDED_PROTO:
          if (into.forwardedProto !== undefined) return false;
          into.forwardedProto = value;
          dropped.push(pos, lineEnd + 2);
          break;
        case CONNECTION:
          if (value.toLowerCase() !== 'keep-alive') return false;
          dropped.push(pos, lineEnd + 2);
          break;
        case HOP_BY_HOP:
          dropped.push(pos, lineEnd + 2);
          break;
        default:
          return false;
      }
    }
    pos = lineEnd + 2;
  }
  if (host === undefined) return false;
  into.host = host;
  into.head = text;
  return true;
}

/** Scratch space for the field line being read (one request is recognized at a time). */
const SPAN: FieldSpan = { colon: 0, start: 0, stop: 0, lineEnd: 0 };
