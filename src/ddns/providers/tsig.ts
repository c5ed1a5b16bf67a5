/**
 * TSIG (RFC 8945): an HMAC over a DNS message and a few "TSIG variables",
 * carried in a TSIG record at the end of the additional section. dns-packet
 * does the wire format; no npm DNS library signs TSIG, so the signing itself
 * is here, with node:crypto's HMAC.
 *
 *   request MAC  = HMAC(message ‖ variables)
 *   response MAC = HMAC(len(request MAC) ‖ request MAC ‖ response without TSIG ‖ variables)
 *   variables    = key name ‖ class ANY ‖ TTL 0 ‖ algorithm ‖ time signed (48 bit) ‖ fudge ‖ error ‖ other len ‖ other data
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { TsigAlgorithm } from '../config-types.ts';
import { decodeName, encodeName, encodeRecord, lastRecordOffset } from './dns-wire.ts';

export interface TsigKey {
  name: string;
  algorithm: TsigAlgorithm;
  secret: Buffer;
}

/** Seconds of clock difference a server accepts (RFC 8945 recommends 300). */
const FUDGE_SECONDS = 300;
const CLASS_ANY = 255;
const TYPE_TSIG = 250;

export const TSIG_ERRORS: Record<number, string> = { 16: 'BADSIG', 17: 'BADKEY', 18: 'BADTIME', 22: 'BADTRUNC' };

const HASHES: Record<TsigAlgorithm, string> = { 'hmac-sha1': 'sha1', 'hmac-sha224': 'sha224', 'hmac-sha256': 'sha256', 'hmac-sha384': 'sha384', 'hmac-sha512': 'sha512' };

export interface SignedMessage {
  bytes: Buffer;
  mac: Buffer;
}

/** Appends a TSIG record to an encoded message (its ARCOUNT one higher). */
export function signMessage(message: Buffer, key: TsigKey, now = Date.now()): SignedMessage {
  const timeSigned = Math.floor(now / 1000);
  const mac = hmac(key, [message, variables(key, timeSigned, 0, Buffer.alloc(0))]);
  const rdata = Buffer.concat([encodeName(key.algorithm), uint48(timeSigned), uint16(FUDGE_SECONDS), uint16(mac.length), mac, message.subarray(0, 2), uint16(0), uint16(0)]);
  const record = encodeRecord({ name: key.name, type: 'TSIG', class: 'ANY', ttl: 0, data: rdata });
  const bytes = Buffer.concat([message, record]);
  bytes.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { bytes, mac };
}

export type TsigVerdict = { ok: true } | { ok: false; error: string; detail: string };

/** Checks the server's TSIG on its answer to `request` (a forged or unsigned answer must not count as success). */
export function verifyResponse(response: Buffer, request: SignedMessage, key: TsigKey): TsigVerdict {
  const arcount = response.readUInt16BE(10);
  if (arcount === 0) return { ok: false, error: 'UNSIGNED', detail: 'the answer carries no TSIG record' };
  const start = lastRecordOffset(response);
  const owner = decodeName(response, start);
  let at = start + owner.bytes;
  if (response.readUInt16BE(at) !== TYPE_TSIG) return { ok: false, error: 'UNSIGNED', detail: 'the answer carries no TSIG record' };
  at += 2 + 2 + 4 + 2; // type, class, TTL, RDLENGTH
  const algorithm = decodeName(response, at);
  at += algorithm.bytes;
  const timeSigned = response.readUIntBE(at, 6);
  const fudge = response.readUInt16BE(at + 6);
  const macSize = response.readUInt16BE(at + 8);
  const mac = response.subarray(at + 10, at + 10 + macSize);
  at += 10 + macSize;
  const originalId = response.readUInt16BE(at);
  const error = response.readUInt16BE(at + 2);
  const otherLength = response.readUInt16BE(at + 4);
  const other = response.subarray(at + 6, at + 6 + otherLength);
  if (error !== 0) return { ok: false, error: TSIG_ERRORS[error] ?? `TSIG error ${error}`, detail: describeTsigError(error, key, other) };
  if (owner.name.toLowerCase() !== key.name || algorithm.name.toLowerCase() !== key.algorithm) return { ok: false, error: 'BADKEY', detail: `the answer is signed with another key (${owner.name}, ${algorithm.name})` };
  const unsigned = Buffer.from(response.subarray(0, start));
  unsigned.writeUInt16BE(arcount - 1, 10);
  unsigned.writeUInt16BE(originalId, 0);
  const expected = hmac(key, [uint16(request.mac.length), request.mac, unsigned, variables(key, timeSigned, error, other, fudge)]);
  if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return { ok: false, error: 'BADSIG', detail: "the answer's signature does not match the key: it was not sent by a server that holds the key" };
  return { ok: true };
}

function describeTsigError(error: number, key: TsigKey, other: Buffer): string {
  switch (error) {
    case 17:
      return `the server does not know the key "${key.name}" with algorithm ${key.algorithm}`;
    case 16:
      return `the server knows the key "${key.name}" but the signature does not match: the secret differs from the server's`;
    case 18: {
      const serverTime = other.length === 6 ? other.readUIntBE(0, 6) : null;
      const skew = serverTime === null ? '' : ` (the server's clock says ${new Date(serverTime * 1000).toISOString()})`;
      return `the clocks differ by more than ${FUDGE_SECONDS} s${skew}: set this machine's clock (systemd-timesyncd, chrony)`;
    }
    default:
      return `the server refused the signature (TSIG error ${TSIG_ERRORS[error] ?? error})`;
  }
}

function variables(key: TsigKey, timeSigned: number, error: number, other: Buffer, fudge = FUDGE_SECONDS): Buffer {
  return Buffer.concat([encodeName(key.name), uint16(CLASS_ANY), Buffer.alloc(4), encodeName(key.algorithm), uint48(timeSigned), uint16(fudge), uint16(error), uint16(other.length), other]);
}

function hmac(key: TsigKey, parts: Buffer[]): Buffer {
  const h = createHmac(HASHES[key.algorithm], key.secret);
  for (const part of parts) h.update(part);
  return h.digest();
}

function uint16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function uint48(n: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(n, 0, 6);
  return b;
}
