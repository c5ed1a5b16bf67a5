/**
 * The server name a TLS client asks for, read from its ClientHello without
 * taking part in the handshake (nginx's ssl_preread, HAProxy's req.ssl_sni):
 * the relay decides where a connection goes and passes the bytes on untouched.
 *
 * The ClientHello may come in several TCP segments and, rarely, several TLS
 * records (RFC 8446 §5.1 lets a handshake message span records): bytes are
 * gathered until the whole message is there, up to MAX_PEEK bytes.
 */
import { parseHost } from '../worker/host.ts';

const RECORD_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXTENSION_SERVER_NAME = 0x0000;
const NAME_TYPE_HOST = 0x00;
const RECORD_HEADER = 5;
/** A ClientHello with post-quantum key shares is under 2 KiB; 16 KiB is a TLS record's own limit. */
export const MAX_PEEK = 16 * 1024 + 4 * RECORD_HEADER;

export type ServerName =
  | { kind: 'incomplete' }
  | { kind: 'invalid'; reason: string }
  /** `name` is lower-case, or null when the client sent no server_name (an IP address in the URL). */
  | { kind: 'found'; name: string | null };

/** True when `first` starts a TLS handshake record (a ClientHello, on a relay). */
export function startsTls(first: number): boolean {
  return first === RECORD_HANDSHAKE;
}

export function readServerName(data: Buffer): ServerName {
  const message = handshakeMessage(data);
  if (message.kind !== 'found') return message;
  return serverNameOf(message.body);
}

/** Joins the handshake records' fragments until the first handshake message is complete. */
function handshakeMessage(data: Buffer): { kind: 'incomplete' } | { kind: 'invalid'; reason: string } | { kind: 'found'; body: Buffer } {
  const fragments: Buffer[] = [];
  let gathered = 0;
  let offset = 0;
  let needed = -1;
  while (offset + RECORD_HEADER <= data.length) {
    if (data[offset] !== RECORD_HANDSHAKE) return { kind: 'invalid', reason: 'not a TLS handshake record' };
    const length = data.readUInt16BE(offset + 3);
    if (length === 0 || length > 16384 + 256) return { kind: 'invalid', reason: `a TLS record of ${length} bytes` };
    if (offset + RECORD_HEADER + length > data.length) break;
    fragments.push(data.subarray(offset + RECORD_HEADER, offset + RECORD_HEADER + length));
    gathered += length;
    offset += RECORD_HEADER + length;
    if (needed === -1 && gathered >= 4) {
      const head = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) return { kind: 'invalid', reason: 'the first handshake message is not a ClientHello' };
      needed = 4 + head.readUIntBE(1, 3);
    }
    if (needed !== -1 && gathered >= needed) {
      const joined = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments);
      return { kind: 'found', body: joined.subarray(4, needed) };
    }
  }
  if (data.length >= MAX_PEEK) return { kind: 'invalid', reason: `no complete ClientHello in ${MAX_PEEK} bytes` };
  return { kind: 'incomplete' };
}

/** Walks the ClientHello body to the server_name extension. Every length is checked against what is there. */
function serverNameOf(body: Buffer): ServerName {
  const invalid = { kind: 'invalid', reason: 'a malformed ClientHello' } as const;
  let at = 2 + 32; // legacy_version, random
  if (at + 1 > body.length) return invalid;
  at += 1 + body[at]!; // legacy_session_id
  if (at + 2 > body.length) return invalid;
  at += 2 + body.readUInt16BE(at); // cipher_suites
  if (at + 1 > body.length) return invalid;
  at += 1 + body[at]!; // legacy_compression_methods
  if (at === body.length) return { kind: 'found', name: null }; // no extensions at all
  if (at + 2 > body.length) return invalid;
  const end = at + 2 + body.readUInt16BE(at);
  if (end > body.length) return invalid;
  at += 2;
  while (at + 4 <= end) {
    const type = body.readUInt16BE(at);
    const length = body.readUInt16BE(at + 2);
    at += 4;
    if (at + length > end) return invalid;
    if (type === EXTENSION_SERVER_NAME) return hostNameIn(body.subarray(at, at + length));
    at += length;
  }
  return at === end ? { kind: 'found', name: null } : invalid;
}

function hostNameIn(extension: Buffer): ServerName {
  if (extension.length < 2 || 2 + extension.readUInt16BE(0) !== extension.length) return { kind: 'invalid', reason: 'a malformed server_name extension' };
  let at = 2;
  while (at + 3 <= extension.length) {
    const type = extension[at]!;
    const length = extension.readUInt16BE(at + 1);
    at += 3;
    if (at + length > extension.length) break;
    if (type === NAME_TYPE_HOST) {
      const text = extension.toString('latin1', at, at + length);
      // A DNS name only (RFC 6066 §3): no port, no IP literal; parseHost lower-cases it and drops a trailing dot.
      const name = text.includes(':') ? null : parseHost(text);
      if (name === null) return { kind: 'invalid', reason: 'a server_name that is not a host name' };
      return { kind: 'found', name };
    }
    at += length;
  }
  return { kind: 'invalid', reason: 'a malformed server_name extension' };
}
