/**
 * The proxy's fast lane: a plain GET or HEAD (worker/fast-lane.ts) relayed to
 * an upstream over a raw keep-alive connection, without node:http's request
 * and response objects or undici's. On one core those cost Kirin about half
 * of what nginx relays (docs/benchmarks.md); the relay writes the request in
 * one write and the answer in as few as it arrives in.
 *
 * What the upstream gets is what the full path sends: the client's fields
 * minus hop-by-hop ones, Host kept or replaced (`preserveHost`), Kirin's
 * X-Forwarded-For/Proto/Host. What the client gets: the upstream's status,
 * its end-to-end fields as they came, Date, Connection and Keep-Alive as
 * node:http adds them, and the body — by length, chunked (passed on as it
 * comes, trailers left out), or re-framed as chunked when the upstream ends
 * it by closing.
 *
 * The relay never answers a failure itself. Until the first byte reaches the
 * client, anything unexpected — a refused or reset connection, no answer
 * within the response timeout, a head it does not understand — hands the
 * request back to the full path (undici), which retries, counts the failure,
 * and answers 502/503/504 as it always does; once a target has failed, the
 * relay leaves it to the full path until it answers well again. After the
 * first byte, a failure cuts the client's connection, as on the full path.
 */
import { STATUS_CODES } from '../../util/node-http.ts';
import { connect, type NetConnectOpts, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { LaneExchange } from '../../worker/context.ts';
import { ChunkedEnd } from './chunked-end.ts';
import { emptyUpstreamHead, readUpstreamHead, type UpstreamHead } from './upstream-head.ts';
import type { UpstreamAddress } from './upstream-address.ts';
import type { FailedRequest, FailureKind } from './upstream-failure.ts';

/**
 * How an exchange on a relay connection ended: `failure` is null when well (or
 * not the target's fault); on a failure, `request` names what was asked.
 */
export type RelayFinished = (failure: FailureKind | null, error: unknown, request: FailedRequest | null) => void;

/** How long an idle connection is kept (undici's default for the full path's pool is the same). */
const IDLE_MS = 4_000;
/** A response head longer than this goes to the full path (undici's default limit is 16 KiB too). */
const MAX_HEAD_BYTES = 16 * 1024;
/** How often deadlines (connect, response, idle) are checked: they are coarse, like nginx's. */
const SWEEP_MS = 500;

/** For the log line when a failure came with no error of its own. */
const FAILURE_MESSAGES: Record<FailureKind, string> = {
  connect: 'connection failed',
  'connect-timeout': 'connect timed out',
  'response-timeout': 'no response head in time',
  reset: 'the upstream closed the connection',
  'bad-upgrade': 'bad upgrade',
  'invalid-request': 'invalid request',
  other: 'the upstream sent a response head the relay does not read',
};

const HEAD_END = Buffer.from('\r\n\r\n');
const LAST_CHUNK = Buffer.from('0\r\n\r\n');
const FINAL_CRLF = Buffer.from('\r\n');

export interface RelayOptions {
  connectTimeoutMs: number;
  responseTimeoutMs: number;
}

/** A target's relay connections: idle ones to reuse, busy ones to watch. */
export class RelayPool {
  readonly #address: UpstreamAddress;
  readonly #options: RelayOptions;
  readonly #idle: UpstreamConnection[] = [];
  readonly #all = new Set<UpstreamConnection>();
  readonly #connectTo: NetConnectOpts;
  #sweep: NodeJS.Timeout | null = null;
  #closed = false;
  /** Told of every exchange's end (set once by the proxy handler: one function for all, no closure per request). */
  onFinished: RelayFinished = () => {};

  constructor(address: UpstreamAddress, options: RelayOptions) {
    this.#address = address;
    this.#options = options;
    this.#connectTo = address.socketPath !== null ? { path: address.socketPath } : { ...hostAndPort(address.origin), noDelay: true };
  }

  /** Sends `request` (a whole head) for `exchange` on an idle connection, or a new one. */
  send(exchange: LaneExchange, request: string, headOnly: boolean): void {
    let connection = this.#idle.pop();
    // One the idle sweep or the upstream just closed has not reported its 'close' yet.
    while (connection !== undefined && connection.destroyed) connection = this.#idle.pop();
    connection ??= this.#open();
    connection.start(exchange, request, headOnly, performance.now() + this.#options.responseTimeoutMs);
  }

  release(connection: UpstreamConnection): void {
    if (this.#closed) connection.destroy();
    else this.#idle.push(connection);
  }

  forget(connection: UpstreamConnection): void {
    this.#all.delete(connection);
    const at = this.#idle.indexOf(connection);
    if (at !== -1) this.#idle.splice(at, 1);
    if (this.#all.size === 0 && this.#sweep !== null) {
      clearInterval(this.#sweep);
      this.#sweep = null;
    }
  }

  /** On drain: nothing is in flight any more. */
  close(): void {
    this.#closed = true;
    for (const connection of this.#all) connection.destroy();
  }

  #open(): UpstreamConnection {
    const socket = connect(this.#connectTo);
    const connection = new UpstreamConnection(socket, this, performance.now() + this.#options.connectTimeoutMs);
    this.#all.add(connection);
    if (this.#sweep === null) {
      this.#sweep = setInterval(() => this.#checkDeadlines(), SWEEP_MS);
      this.#sweep.unref();
    }
    return connection;
  }

  #checkDeadlines(): void {
    const now = performance.now();
    for (const connection of this.#all) connection.checkDeadline(now);
  }
}

/** How the body of the response being relayed ends. */
const AWAITING_HEAD = 0;
const BY_LENGTH = 1;
const CHUNKED = 2;
const BY_CLOSE = 3;

/** One raw connection to an upstream, relaying one exchange at a time. */
class UpstreamConnection {
  readonly #socket: Socket;
  readonly #pool: RelayPool;
  readonly #head: UpstreamHead = emptyUpstreamHead();
  #connectDeadline: number;
  #exchange: LaneExchange | null = null;
  /** The exchange's method and target, for the failure report (its request object serves the next one by then). */
  #method = '';
  #target = '';
  /** It has carried a whole exchange before: a reset before any answer is then likely the upstream closing it as idle. */
  #reused = false;
  /** Why the relay gave up on the connection, when it did. */
  #failure: FailureKind | null = null;
  #error: unknown = null;
  #headOnly = false;
  #phase = AWAITING_HEAD;
  /** Head bytes that came in more than one read. */
  #partial: Buffer | null = null;
  #responseDeadline = 0;
  #idleDeadline = 0;
  #remaining = 0;
  #chunked: ChunkedEnd | null = null;
  /** Bytes written to the client for this response; > 0 once it has started. */
  #written = 0;
  #status = 0;

  constructor(socket: Socket, pool: RelayPool, connectDeadline: number) {
    this.#socket = socket;
    this.#pool = pool;
    this.#connectDeadline = connectDeadline;
    socket.on('connect', () => (this.#connectDeadline = 0));
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', (error) => {
      this.#error = error;
      socket.destroy();
    });
    socket.on('close', this.#onClose);
  }

  start(exchange: LaneExchange, request: string, headOnly: boolean, responseDeadline: number): void {
    this.#exchange = exchange;
    this.#method = exchange.request.method;
    this.#target = exchange.route.target;
    this.#headOnly = headOnly;
    this.#phase = AWAITING_HEAD;
    this.#written = 0;
    this.#responseDeadline = responseDeadline;
    exchange.onAbort = this.#onClientGone;
    this.#socket.write(request, 'latin1');
  }

  destroy(): void {
    this.#socket.destroy();
  }

  get destroyed(): boolean {
    return this.#socket.destroyed;
  }

  checkDeadline(now: number): void {
    if (this.#exchange === null) {
      if (this.#idleDeadline !== 0 && now >= this.#idleDeadline) this.#socket.destroy();
    } else if (this.#connectDeadline !== 0 && now >= this.#connectDeadline) this.#giveUp('connect-timeout');
    else if (this.#written === 0 && now >= this.#responseDeadline) this.#giveUp('response-timeout');
  }

  #giveUp(failure: FailureKind): void {
    this.#failure ??= failure;
    this.#socket.destroy();
  }

  readonly #onData = (chunk: Buffer): void => {
    const exchange = this.#exchange;
    // Bytes nobody asked for: the connection is out of step; never reuse it.
    if (exchange === null) return void this.#socket.destroy();
    try {
      if (this.#phase === AWAITING_HEAD) this.#readHead(exchange, chunk);
      else this.#passBody(exchange, chunk, 0);
    } catch (error) {
      // A malformed chunked body (chunked-end.ts): the response cannot be finished.
      this.#error = error;
      this.#giveUp('other');
    }
  };

  #readHead(exchange: LaneExchange, chunk: Buffer): void {
    let buffer = this.#partial === null ? chunk : Buffer.concat([this.#partial, chunk]);
    this.#partial = null;
    for (;;) {
      const end = buffer.indexOf(HEAD_END);
      if (end === -1) {
        if (buffer.length > MAX_HEAD_BYTES) return this.#giveUp('other');
        this.#partial = buffer;
        return;
      }
      const head = this.#head;
      if (!readUpstreamHead(buffer.toString('latin1', 0, end + 4), head)) return this.#giveUp('other');
      const bodyStart = end + 4;
      if (head.status >= 200) return this.#startResponse(exchange, head, buffer, bodyStart);
      // 101 to a request that asked for no upgrade is the full path's to refuse (502);
      // other informational answers (100, 103) are not passed on, as on the full path: the final one follows.
      if (head.status === 101) return this.#giveUp('bad-upgrade');
      if (bodyStart === buffer.length) return;
      buffer = buffer.subarray(bodyStart);
    }
  }

  #startResponse(exchange: LaneExchange, head: UpstreamHead, buffer: Buffer, bodyStart: number): void {
    const status = head.status;
    this.#status = status;
    const bodiless = this.#headOnly || status === 204 || status === 304;
    let framing = '';
    if (bodiless) this.#phase = BY_LENGTH;
    else if (head.chunked) {
      this.#phase = CHUNKED;
      (this.#chunked ??= new ChunkedEnd()).reset();
      framing = 'Transfer-Encoding: chunked\r\n';
    } else if (head.contentLength !== -1) this.#phase = BY_LENGTH;
    else {
      // Ends when the upstream closes: the client gets it chunked, so its connection can stay open.
      this.#phase = BY_CLOSE;
      head.keepAlive = false;
      framing = 'Transfer-Encoding: chunked\r\n';
    }
    this.#remaining = bodiless ? 0 : head.contentLength;
    const text = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'unknown'}\r\n${head.fields}${framing}${exchange.responseFields(!head.hasDate)}\r\n`;
    const headBytes = Buffer.byteLength(text, 'latin1');
    if (this.#phase === BY_LENGTH) {
      // The common case: head and (all or the first part of) the body in one write.
      const take = Math.min(this.#remaining, buffer.length - bodyStart);
      const out = Buffer.allocUnsafe(headBytes + take);
      out.write(text, 0, 'latin1');
      buffer.copy(out, headBytes, bodyStart, bodyStart + take);
      this.#remaining -= take;
      this.#write(exchange, out);
      if (this.#remaining === 0) return this.#complete(exchange, bodyStart + take < buffer.length);
      return;
    }
    this.#write(exchange, Buffer.from(text, 'latin1'));
    if (bodyStart < buffer.length) this.#passBody(exchange, buffer, bodyStart);
  }

  #passBody(exchange: LaneExchange, buffer: Buffer, from: number): void {
    switch (this.#phase) {
      case BY_LENGTH: {
        const take = Math.min(this.#remaining, buffer.length - from);
        this.#remaining -= take;
        this.#write(exchange, from === 0 && take === buffer.length ? buffer : buffer.subarray(from, from + take));
        if (this.#remaining === 0) this.#complete(exchange, from + take < buffer.length);
        return;
      }
      case CHUNKED: {
        const chunked = this.#chunked!;
        const ended = chunked.scan(buffer, from);
        if (chunked.passEnd > from) this.#write(exchange, buffer.subarray(from, chunked.passEnd));
        if (!ended) return;
        this.#write(exchange, FINAL_CRLF);
        this.#complete(exchange, chunked.bodyEnd < buffer.length);
        return;
      }
      case BY_CLOSE: {
        const length = buffer.length - from;
        this.#write(exchange, Buffer.from(`${length.toString(16)}\r\n`, 'latin1'));
        this.#write(exchange, from === 0 ? buffer : buffer.subarray(from));
        this.#write(exchange, FINAL_CRLF);
      }
    }
  }

  #write(exchange: LaneExchange, bytes: Buffer): void {
    this.#written += bytes.length;
    const client = exchange.socket;
    // A client that reads slower than the upstream sends: hold the upstream until it catches up.
    if (!client.write(bytes) && !this.#socket.isPaused()) {
      this.#socket.pause();
      client.once('drain', this.#onClientDrain);
    }
  }

  readonly #onClientDrain = (): void => {
    if (!this.#socket.destroyed) this.#socket.resume();
  };

  /** The response is whole. `excess`: the upstream sent more than it announced, so its connection is not reused. */
  #complete(exchange: LaneExchange, excess: boolean): void {
    const reuse = this.#head.keepAlive && !excess;
    exchange.socket.off('drain', this.#onClientDrain);
    this.#finish(null);
    this.#reused = true;
    if (reuse) {
      const hint = this.#head.keepAliveMs;
      this.#idleDeadline = performance.now() + (hint > 0 ? Math.min(IDLE_MS, hint - 1000) : IDLE_MS);
      if (this.#socket.isPaused()) this.#socket.resume();
      this.#pool.release(this);
    } else this.#socket.destroy();
    exchange.done(this.#status, this.#written);
  }

  /** Ends the exchange on this connection (the caller tells the client side). */
  #finish(failure: FailureKind | null): void {
    const exchange = this.#exchange!;
    exchange.onAbort = null;
    this.#exchange = null;
    this.#partial = null;
    if (failure === null) this.#pool.onFinished(null, null, null);
    else this.#pool.onFinished(failure, this.#error ?? new Error(FAILURE_MESSAGES[failure]), { method: this.#method, target: this.#target });
  }

  readonly #onEnd = (): void => {
    const exchange = this.#exchange;
    if (exchange !== null && this.#phase === BY_CLOSE) {
      this.#write(exchange, LAST_CHUNK);
      this.#complete(exchange, false);
    }
    this.#socket.destroy();
  };

  readonly #onClose = (): void => {
    this.#pool.forget(this);
    const exchange = this.#exchange;
    if (exchange === null) return;
    this.#finish(this.#failureOnClose());
    if (this.#written === 0) exchange.handBack();
    else {
      // Too late for an error page: cut the response so the client sees it is incomplete.
      exchange.socket.destroy();
      exchange.done(this.#status, this.#written);
    }
  };

  /** What the passive health check makes of the connection closing mid-exchange. */
  #failureOnClose(): FailureKind | null {
    if (this.#failure !== null) return this.#failure;
    if (this.#connectDeadline !== 0) return 'connect';
    // A reused connection the upstream closed as idle just as the request went out: not the upstream's failure.
    return this.#reused && this.#written === 0 ? null : 'reset';
  }

  /** The client left mid-exchange: the rest of the answer has nowhere to go. */
  readonly #onClientGone = (): void => {
    const exchange = this.#exchange;
    if (exchange === null) return;
    this.#finish(null);
    this.#socket.destroy();
    exchange.done(499, this.#written);
  };
}

/** Where to connect for an http: origin (IPv6 without its brackets). */
function hostAndPort(origin: string): { host: string; port: number } {
  const url = new URL(origin);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port: url.port === '' ? 80 : Number(url.port) };
}
