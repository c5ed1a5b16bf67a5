/**
 * The head of an upstream's HTTP/1.1 response, read for the relay (relay.ts):
 * its status, the end-to-end field lines to pass on as they came (case and
 * order kept, as nginx does), and what the relay needs to frame the body and
 * keep the connection. Strict like the fast lane's request recognizer: a head
 * it does not positively understand (a malformed line, conflicting lengths, a
 * transfer coding other than chunked) makes it return false, and the request
 * goes to the full path, where undici's llhttp judges the upstream's answer.
 */
import { readFieldLine, type FieldSpan } from '../../worker/field-line.ts';
import { isHopByHop, readConnection, removableByConnection, type ConnectionOptions } from '../../worker/http-fields.ts';

export interface UpstreamHead {
  status: number;
  /** The field lines to pass on, each with its CRLF: all but the hop-by-hop ones and those Connection names. */
  fields: string;
  /** The head has a Date field (else the relay adds one, as node:http does). */
  hasDate: boolean;
  /** Content-Length, or -1 when there is none. */
  contentLength: number;
  /** Transfer-Encoding: chunked. */
  chunked: boolean;
  /** The upstream keeps the connection open after this response. */
  keepAlive: boolean;
  /** The upstream's `Keep-Alive: timeout=` hint in ms, or -1. */
  keepAliveMs: number;
}

export function emptyUpstreamHead(): UpstreamHead {
  return { status: 0, fields: '', hasDate: false, contentLength: -1, chunked: false, keepAlive: false, keepAliveMs: -1 };
}

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)[ \r]/;

/** Lengths of the names read here: only a field of such a length is lower-cased and looked at. */
const INTERESTING_LENGTHS = new Set([4 /* date */, 14 /* content-length */, 2, 6, 7, 10, 16, 17, 18, 19 /* hop-by-hop */]);

const SPAN: FieldSpan = { colon: 0, start: 0, stop: 0, lineEnd: 0 };
/** [start, end) pairs of the lines kept, merged where they touch; reused. */
const kept: number[] = [];

/** Reads `text`, a whole head up to and including its empty line, into `into`. False when it is not one to relay. */
export function readUpstreamHead(text: string, into: UpstreamHead): boolean {
  const status = STATUS_LINE.exec(text);
  if (status === null) return false;
  const http10 = status[1] === '0';
  into.status = Number(status[2]);
  into.hasDate = false;
  into.contentLength = -1;
  into.chunked = false;
  into.keepAlive = !http10;
  into.keepAliveMs = -1;
  const connection = CONNECTION;
  connection.close = false;
  connection.keepAlive = false;
  connection.listed = null;
  kept.length = 0;
  const end = text.length - 2;
  let pos = text.indexOf('\r\n') + 2;
  while (pos < end) {
    if (!readFieldLine(text, pos, SPAN)) return false;
    const next = SPAN.lineEnd + 2;
    let keep = true;
    if (INTERESTING_LENGTHS.has(SPAN.colon - pos)) {
      const name = text.slice(pos, SPAN.colon).toLowerCase();
      const value = text.slice(SPAN.start, SPAN.stop);
      if (name === 'date') into.hasDate = true;
      else if (name === 'content-length') {
        if (!/^\d{1,15}$/.test(value) || (into.contentLength !== -1 && into.contentLength !== Number(value))) return false;
        into.contentLength = Number(value);
      } else if (isHopByHop(name)) {
        keep = false;
        if (name === 'transfer-encoding') {
          // Only chunked, once: anything else (gzip, chunked twice) is the full path's to judge.
          if (into.chunked || value.toLowerCase() !== 'chunked') return false;
          into.chunked = true;
        } else if (name === 'connection') readConnection(value, connection);
        else if (name === 'keep-alive') into.keepAliveMs = keepAliveHint(value);
      }
    }
    if (keep) {
      if (kept.length > 0 && kept[kept.length - 1] === pos) kept[kept.length - 1] = next;
      else kept.push(pos, next);
    }
    pos = next;
  }
  // A length and a coding both (RFC 9112 §6.3: a sign of smuggling): the full path refuses it.
  if (into.chunked && into.contentLength !== -1) return false;
  // Close wins over keep-alive, said or implied by the version.
  if (connection.close) into.keepAlive = false;
  else if (connection.keepAlive) into.keepAlive = true;
  const listed = connection.listed;
  into.fields = listed === null ? joinKept(text) : joinKeptWithout(text, listed);
  return true;
}

/** What the head's Connection fields say (one head is read at a time). */
const CONNECTION: ConnectionOptions = { close: false, keepAlive: false, listed: null };

/** `timeout=N` of a Keep-Alive field, in ms; -1 without one. */
function keepAliveHint(value: string): number {
  const match = /(?:^|[,;\s])timeout\s*=\s*(\d+)/i.exec(value);
  return match === null ? -1 : Number(match[1]) * 1000;
}

function joinKept(text: string): string {
  let fields = '';
  for (let i = 0; i < kept.length; i += 2) fields += text.slice(kept[i], kept[i + 1]);
  return fields;
}

function joinKeptWithout(text: string, listed: Set<string>): string {
  let fields = '';
  for (let i = 0; i < kept.length; i += 2) {
    for (let pos = kept[i]!; pos < kept[i + 1]!; ) {
      const lineEnd = text.indexOf('\r\n', pos) + 2;
      const name = text.slice(pos, text.indexOf(':', pos)).toLowerCase();
      // Content-Length frames the body the relay passes on: no Connection option removes it (as on the full path).
      if (!listed.has(name) || !removableByConnection(name)) fields += text.slice(pos, lineEnd);
      pos = lineEnd;
    }
  }
  return fields;
}
