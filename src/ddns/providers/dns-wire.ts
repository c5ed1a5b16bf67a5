/**
 * The parts of dns-packet (the DNS wire format library Kirin uses) that the
 * RFC 2136 provider needs, with types: @types/dns-packet declares the message
 * codec only, not the name, question and record codecs it also exports.
 */
import * as dnsPacket from 'dns-packet';

export interface WireRecord {
  name: string;
  type: string;
  class?: string;
  ttl?: number;
  data: unknown;
}

export interface WireMessage {
  id?: number;
  type?: 'query' | 'response';
  flags?: number;
  questions?: { name: string; type: string; class?: string }[];
  answers?: WireRecord[];
  authorities?: WireRecord[];
  additionals?: WireRecord[];
}

interface Codec<T> {
  encode(value: T, buf?: Buffer, offset?: number): Buffer;
  decode(buf: Buffer, offset?: number): T;
  encodingLength(value: T): number;
}

type WithBytes<F> = F & { bytes: number };

const codec = dnsPacket as unknown as {
  encode(message: WireMessage): Buffer;
  name: Codec<string> & { decode: WithBytes<Codec<string>['decode']> };
  question: { decode: WithBytes<(buf: Buffer, offset: number) => unknown> };
  answer: Codec<WireRecord> & { decode: WithBytes<(buf: Buffer, offset: number) => WireRecord> };
};

export const RCODE_NAMES: Record<number, string> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 6: 'YXDOMAIN', 7: 'YXRRSET', 8: 'NXRRSET', 9: 'NOTAUTH', 10: 'NOTZONE' };
export const OPCODE_UPDATE = 5;

export function encodeMessage(message: WireMessage): Buffer {
  return codec.encode(message);
}

/** A domain name in canonical wire form: lower-case, uncompressed (what TSIG signs). */
export function encodeName(name: string): Buffer {
  return codec.name.encode(name.toLowerCase());
}

export function decodeName(buf: Buffer, offset: number): { name: string; bytes: number } {
  const name = codec.name.decode(buf, offset);
  return { name, bytes: codec.name.decode.bytes };
}

export function encodeRecord(record: WireRecord): Buffer {
  return codec.answer.encode(record);
}

/** Where the last record of a message starts (the TSIG record, when the message is signed). */
export function lastRecordOffset(buf: Buffer): number {
  let offset = 12;
  const questions = buf.readUInt16BE(4);
  const records = buf.readUInt16BE(6) + buf.readUInt16BE(8) + buf.readUInt16BE(10);
  for (let i = 0; i < questions; i++) {
    codec.question.decode(buf, offset);
    offset += codec.question.decode.bytes;
  }
  let last = -1;
  for (let i = 0; i < records; i++) {
    last = offset;
    codec.answer.decode(buf, offset);
    offset += codec.answer.decode.bytes;
  }
  return last;
}
