/**
 * A listener with `proxyProtocol: true` (the home end of a relay): every
 * connection must come from a trusted proxy and start with a PROXY protocol
 * v2 header; the header is consumed and the address it carries becomes the
 * socket's `remoteAddress`/`remotePort`.
 *
 * Setting the socket's own address, rather than passing the client along
 * beside it, is what makes the PROXY client exactly a direct client: the
 * client resolver (worker/client.ts) reads the socket, and so do access logs,
 * allow lists, rate limits, X-Forwarded-For, `info.remote` of fetch apps and
 * `req.socket.remoteAddress` of Node listener apps. Forwarding headers stay
 * believed only from trustedProxies, and the relayed client is not one.
 *
 * Refused (closed before a byte is answered): a peer that is not in
 * trustedProxies, a connection without a v2 header, or one that sends none
 * within the header timeout.
 */
import type { Server, Socket } from 'node:net';
import { Server as TlsServer, type TLSSocket } from 'node:tls';
import { IpMatcher } from '../net/ip.ts';
import { ClientResolver } from '../worker/client.ts';
import type { Logger } from '../observe/log.ts';
import { parseProxyHeader, type Endpoint } from './proxy-protocol.ts';

export interface ProxyListenerOptions {
  trustedProxies: readonly string[];
  /** Time allowed for the header to arrive (the listener's header timeout). */
  timeoutMs: number;
  logger: Logger;
}

/** Refusals are logged at most this often (with the count in between): a misconfigured peer retries fast. */
const REFUSAL_LOG_MS = 60_000;

/**
 * Makes `server` read a PROXY header before its own 'connection' handling
 * sees a socket. Call it right after creating the server: listeners added
 * later (the worker's connection tracking) see the raw socket at once.
 */
export function expectProxyHeader(server: Server, options: ProxyListenerOptions): void {
  const trusted = IpMatcher.compile(options.trustedProxies).matcher;
  const peers = new ClientResolver([]);
  const handlers = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  const refusals = new RefusalLog(options.logger);
  const tls = server instanceof TlsServer;
  server.on('connection', (socket: Socket) => {
    // The resolver's reading of the peer: a unix-socket peer is a local process (loopback).
    const peer = peers.peerOf(socket);
    if (!trusted.matches(peer)) {
      refusals.note(peer, 'it is not in trustedProxies');
      socket.destroy();
      return;
    }
    readHeader(socket, options.timeoutMs, (error, source) => {
      if (error !== null) {
        refusals.note(peer, error);
        socket.destroy();
        return;
      }
      if (source !== null) setRemote(socket, source);
      for (const handler of handlers) handler.call(server, socket);
      // A TLS server reads what is buffered itself (on the next tick); node:http only listens for 'data', which a paused socket does not emit.
      if (!tls) socket.resume();
    });
  });
  // A TLS socket asks its own handle for the peer, not the socket it wraps: give it the same client.
  server.prependListener('secureConnection', (tlsSocket: TLSSocket) => {
    const raw = (tlsSocket as TLSSocket & { _parent?: Socket | null })._parent;
    if (raw && Object.hasOwn(raw, 'remoteAddress')) setRemote(tlsSocket, { address: raw.remoteAddress!, port: raw.remotePort! });
  });
}

function readHeader(socket: Socket, timeoutMs: number, done: (error: string | null, source: Endpoint | null) => void): void {
  let buffered: Buffer = Buffer.alloc(0);
  let finished = false;
  const finish = (error: string | null, source: Endpoint | null) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('error', onEnd);
    done(error, source);
  };
  const onData = (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const header = parseProxyHeader(buffered);
    if (header.kind === 'incomplete') return;
    if (header.kind === 'invalid') return finish(header.reason, null);
    // The server reads the rest: the client's first bytes may have come in the same packet.
    socket.pause();
    if (buffered.length > header.length) socket.unshift(buffered.subarray(header.length));
    finish(null, header.source);
  };
  const onEnd = () => finish('it closed before sending a PROXY header', null);
  const timer = setTimeout(() => finish(`no PROXY header within ${timeoutMs / 1000} s`, null), timeoutMs);
  socket.on('data', onData);
  socket.once('end', onEnd);
  socket.once('error', onEnd);
}

function setRemote(socket: Socket, source: Endpoint): void {
  Object.defineProperty(socket, 'remoteAddress', { value: source.address, configurable: true });
  Object.defineProperty(socket, 'remotePort', { value: source.port, configurable: true });
  Object.defineProperty(socket, 'remoteFamily', { value: source.address.includes(':') ? 'IPv6' : 'IPv4', configurable: true });
}

class RefusalLog {
  readonly #logger: Logger;
  #lastAt = 0;
  #held = 0;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  note(peer: string, why: string): void {
    const now = Date.now();
    if (now - this.#lastAt < REFUSAL_LOG_MS) {
      this.#held++;
      return;
    }
    const held = this.#held > 0 ? ` (${this.#held} more refused since the last message)` : '';
    this.#lastAt = now;
    this.#held = 0;
    this.#logger.warn({ peer }, `refused a connection from ${peer} on a PROXY protocol listener: ${why}${held}`);
  }
}
