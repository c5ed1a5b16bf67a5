/**
 * RFC 2136 dynamic updates, signed with TSIG, to the zone's primary server
 * (BIND, Knot, PowerDNS). One UPDATE message per run changes every name
 * atomically: for each address family in use, delete the name's RRset and add
 * the new record (the server makes no change when it already holds exactly
 * that). The server's answer must carry a valid TSIG, or it does not count.
 *
 * UDP like nsupdate (5 s per try, two tries), TCP when the answer is truncated.
 */
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP, connect } from 'node:net';
import type { SecretReader } from '../credentials.ts';
import type { Rfc2136Plan } from '../plan.ts';
import { encodeMessage, OPCODE_UPDATE, RCODE_NAMES, type WireRecord } from './dns-wire.ts';
import { forAll, type DdnsProvider, type NameResult, type UpdateRequest } from './provider.ts';
import { signMessage, verifyResponse, type SignedMessage, type TsigKey } from './tsig.ts';

const TRY_TIMEOUT_MS = 5_000;
const TRIES = 2;

export class Rfc2136Provider implements DdnsProvider {
  readonly kind = 'rfc2136' as const;
  readonly target: string;
  readonly #plan: Rfc2136Plan;
  readonly #secret: SecretReader;

  constructor(plan: Rfc2136Plan, secret: SecretReader) {
    this.#plan = plan;
    this.#secret = secret;
    this.target = `${plan.host.includes(':') ? `[${plan.host}]` : plan.host}:${plan.port}`;
  }

  async update(request: UpdateRequest, signal: AbortSignal): Promise<NameResult[]> {
    const secret = Buffer.from(this.#secret(this.#plan.key.secret), 'base64');
    if (secret.length === 0) return forAll(request.names, { status: 'stop', code: 'bad-secret', message: `${this.#plan.key.secret.at}: ${this.#plan.key.secret.variable} is not a base64 TSIG secret (as tsig-keygen prints it)` });
    const key: TsigKey = { name: this.#plan.key.name, algorithm: this.#plan.key.algorithm, secret };
    const signed = signMessage(encodeMessage(this.#updateMessage(request)), key);
    let answer: Buffer;
    try {
      answer = await exchange(this.#plan.host, this.#plan.port, signed.bytes, signal);
    } catch (error) {
      const timedOut = (error as Error).name === 'TimeoutError';
      return forAll(request.names, { status: 'retry', code: timedOut ? 'timeout' : 'network', message: timedOut ? `${this.target} did not answer (${TRIES} tries, ${TRY_TIMEOUT_MS / 1000} s each)` : `cannot reach ${this.target}: ${(error as Error).message}` });
    }
    return forAll(request.names, this.#judge(answer, signed, key));
  }

  #updateMessage(request: UpdateRequest) {
    const changes: WireRecord[] = [];
    for (const name of request.names) {
      for (const [type, typeCode, address] of [['A', 1, request.ipv4], ['AAAA', 28, request.ipv6]] as const) {
        if (address === null) continue;
        // "Delete an RRset" (RFC 2136 §2.5.2): class ANY, TTL 0, empty RDATA. dns-packet writes empty RDATA only for
        // types it does not know, so the type goes by number.
        changes.push({ name, type: `UNKNOWN_${typeCode}`, class: 'ANY', ttl: 0, data: Buffer.alloc(0) });
        changes.push({ name, type, class: 'IN', ttl: this.#plan.ttl, data: address });
      }
    }
    // Sections of an UPDATE: zone (questions), prerequisites (answers, none), updates (authorities).
    return { id: randomInt(0, 0x10000), type: 'query' as const, flags: OPCODE_UPDATE << 11, questions: [{ name: this.#plan.zone, type: 'SOA', class: 'IN' }], answers: [], authorities: changes };
  }

  #judge(answer: Buffer, request: SignedMessage, key: TsigKey): Omit<NameResult, 'name'> {
    let rcode: string;
    try {
      rcode = RCODE_NAMES[answer.readUInt16BE(2) & 0xf] ?? `RCODE${answer.readUInt16BE(2) & 0xf}`;
    } catch {
      return { status: 'retry', code: 'garbled', message: `${this.target} sent an answer that is not a DNS message` };
    }
    let verdict;
    try {
      verdict = verifyResponse(answer, request, key);
    } catch {
      return { status: 'retry', code: 'garbled', message: `${this.target} sent an answer whose TSIG record cannot be read` };
    }
    if (!verdict.ok && verdict.error !== 'UNSIGNED' && rcode === 'NOTAUTH') {
      // The server refused our signature: the key, the secret or the clock is wrong.
      return { status: 'stop', code: verdict.error, message: `${this.target} refused the update (${rcode}/${verdict.error}): ${verdict.detail}` };
    }
    switch (rcode) {
      case 'NOERROR':
        if (!verdict.ok) return { status: 'retry', code: verdict.error, message: `${this.target} answered NOERROR but ${verdict.detail}; not counted as done` };
        return { status: 'updated', code: 'NOERROR', message: `${this.target} accepted the update of zone ${this.#plan.zone}` };
      case 'SERVFAIL':
        return { status: 'retry', code: rcode, message: `${this.target} answered SERVFAIL (trouble on the server)` };
      case 'REFUSED':
        return { status: 'stop', code: rcode, message: `${this.target} refused the update: the key "${key.name}" may not change these names (the zone's update-policy or allow-update)` };
      case 'NOTAUTH':
        return { status: 'stop', code: rcode, message: `${this.target} is not the primary server of zone ${this.#plan.zone}, or does not accept this key for it` };
      case 'NOTZONE':
        return { status: 'stop', code: rcode, message: `a name is not in zone ${this.#plan.zone} (NOTZONE)` };
      default:
        return { status: 'stop', code: rcode, message: `${this.target} answered ${rcode}` };
    }
  }
}

/** Sends the message, returns the answer with the same id: UDP, then TCP if the answer was truncated. */
async function exchange(host: string, port: number, message: Buffer, signal: AbortSignal): Promise<Buffer> {
  const address = isIP(host) ? host : (await lookup(host)).address;
  const id = message.readUInt16BE(0);
  let answer: Buffer | null = null;
  for (let attempt = 1; attempt <= TRIES && answer === null; attempt++) {
    try {
      answer = await udpExchange(address, port, message, id, signal);
    } catch (error) {
      if ((error as Error).name !== 'TimeoutError' || attempt === TRIES) throw error;
    }
  }
  const truncated = (answer!.readUInt16BE(2) & 0x0200) !== 0;
  return truncated ? tcpExchange(address, port, message, signal) : answer!;
}

function udpExchange(address: string, port: number, message: Buffer, id: number, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIP(address) === 6 ? 'udp6' : 'udp4');
    const timer = setTimeout(() => finish(Object.assign(new Error('timed out'), { name: 'TimeoutError' })), TRY_TIMEOUT_MS);
    const onAbort = () => finish(Object.assign(new Error('stopped'), { name: 'AbortError' }));
    signal.addEventListener('abort', onAbort, { once: true });
    function finish(error: Error | null, answer?: Buffer): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.close();
      if (error) reject(error);
      else resolve(answer!);
    }
    socket.on('error', (error) => finish(error));
    socket.on('message', (data, from) => {
      // Only the server's answer to this message (spoofed datagrams from elsewhere are dropped).
      if (from.port === port && data.length >= 12 && data.readUInt16BE(0) === id) finish(null, data);
    });
    socket.send(message, port, address);
  });
}

function tcpExchange(address: string, port: number, message: Buffer, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address, port, signal, timeout: TRY_TIMEOUT_MS });
    const length = Buffer.alloc(2);
    length.writeUInt16BE(message.length);
    let received = Buffer.alloc(0);
    socket.on('connect', () => socket.end(Buffer.concat([length, message])));
    socket.on('timeout', () => socket.destroy(Object.assign(new Error('timed out'), { name: 'TimeoutError' })));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        socket.destroy();
        resolve(received.subarray(2, 2 + received.readUInt16BE(0)));
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('the connection closed before a whole answer arrived')));
  });
}
