/**
 * HTTP clients for tests: a plain one on node:http (full control of headers,
 * agents and sockets) and a raw one that writes bytes to a socket, for the
 * malformed requests a real client library would refuse to send.
 */
import { request as httpRequest, type Agent, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';

export interface SimpleResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  buffer: Buffer;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  agent?: Agent | false;
  timeoutMs?: number;
  /** Connect to a unix socket instead of the URL's host. */
  socketPath?: string;
  /** For an https:// URL: the CA to verify the server's certificate against. */
  ca?: string | Buffer;
  /** Makes the connection (instead of any agent): e.g. one that sends a PROXY header first. */
  createConnection?: () => Socket;
}

/** One request with node:http (node:https for an https:// URL); the path is sent exactly as written in `url` after the host. */
export function request(url: string, options: RequestOptions = {}): Promise<SimpleResponse> {
  const parsed = new URL(url);
  const path = url.slice(url.indexOf('/', url.indexOf('//') + 2)) || '/';
  return new Promise((resolve, reject) => {
    const tls = parsed.protocol === 'https:';
    const req = (tls ? httpsRequest : httpRequest)(
      {
        host: parsed.hostname.replace(/^\[|\]$/g, ''),
        port: parsed.port || (tls ? 443 : 80),
        ca: options.ca,
        createConnection: options.createConnection,
        path,
        method: options.method ?? 'GET',
        headers: options.headers,
        // node:http calls createConnection only for a request without an agent.
        agent: options.createConnection ? undefined : options.agent,
        socketPath: options.socketPath,
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const buffer = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buffer.toString('utf8'), buffer });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request to ${url} timed out`)));
    req.on('error', reject);
    if (options.body !== undefined) req.end(options.body);
    else req.end();
  });
}

export interface RawResponse {
  /** Everything the server sent before closing (or before the timeout). */
  raw: string;
  /** The status of the first response, or 0. */
  status: number;
  /** Whether the server closed the connection. */
  closed: boolean;
}

/**
 * Writes `data` to host:port and collects what comes back until the server
 * closes the connection or `timeoutMs` passes.
 */
export function rawRequest(port: number, data: string | Buffer | (string | Buffer)[], options: { host?: string; timeoutMs?: number; delayMs?: number } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: options.host ?? '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let closed = false;
    const finish = () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString('latin1');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
      resolve({ raw, status: match ? Number(match[1]) : 0, closed });
      socket.destroy();
    };
    const timer = setTimeout(finish, options.timeoutMs ?? 5000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => {
      closed = true;
      finish();
    });
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') {
        closed = true;
        finish();
      } else reject(error);
    });
    socket.on('connect', async () => {
      const parts = Array.isArray(data) ? data : [data];
      for (const part of parts) {
        if (socket.destroyed) return;
        socket.write(part);
        if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
      }
    });
  });
}

/** One response read off a raw connection. */
export interface WireResponse {
  status: number;
  /** The head as sent, status line and fields (without the blank line). */
  head: string;
  /** Field names in lower case → value (the last one wins). */
  headers: Record<string, string>;
  body: Buffer;
  /** For a chunked response: the body as it came on the wire. */
  wire?: Buffer;
}

/**
 * A keep-alive connection written to byte by byte: requests go out exactly as
 * given (one write each), responses are read back one by one (framed by
 * Content-Length or chunked; HEAD responses have no body).
 */
export class RawConnection {
  readonly #socket: import('node:net').Socket;
  #buffer = Buffer.alloc(0);
  #wake: (() => void) | null = null;
  #ended = false;
  /** Resolves when the server closes the connection. */
  readonly closed: Promise<void>;

  private constructor(socket: import('node:net').Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#wake?.();
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.#ended = true;
        this.#wake?.();
        resolve();
      });
    });
    socket.on('error', () => {});
  }

  static open(port: number, host = '127.0.0.1'): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true });
      socket.once('connect', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  write(data: string | Buffer): void {
    this.#socket.write(data);
  }

  /** Half-closes: the client sends nothing more. */
  end(): void {
    this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  /** The next response; `head`: it answers a HEAD request (no body follows). */
  async read(options: { head?: boolean; timeoutMs?: number } = {}): Promise<WireResponse> {
    const deadline = Date.now() + (options.timeoutMs ?? 5000);
    for (;;) {
      const parsed = this.#take(options.head === true);
      if (parsed) return parsed;
      if (this.#ended) throw new Error(`the server closed the connection; unread: ${JSON.stringify(this.#buffer.toString('latin1').slice(0, 200))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no complete response in time; unread: ${JSON.stringify(this.#buffer.toString('latin1').slice(0, 200))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          this.#wake = null;
          resolve();
        };
      });
    }
  }

  /** Sends `request` and reads its response. */
  async exchange(request: string, options: { head?: boolean } = {}): Promise<WireResponse> {
    this.write(request);
    return this.read({ head: options.head ?? request.startsWith('HEAD ') });
  }

  #take(isHead: boolean): WireResponse | null {
    const end = this.#buffer.indexOf('\r\n\r\n');
    if (end === -1) return null;
    const head = this.#buffer.subarray(0, end).toString('latin1');
    const headers: Record<string, string> = {};
    for (const line of head.split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
    if (!isHead && status !== 304 && status !== 204 && headers['transfer-encoding'] === 'chunked') return this.#takeChunked(end + 4, status, head, headers);
    const length = isHead || status === 304 || status === 204 ? 0 : Number(headers['content-length'] ?? 0);
    if (this.#buffer.length < end + 4 + length) return null;
    const body = this.#buffer.subarray(end + 4, end + 4 + length);
    this.#buffer = this.#buffer.subarray(end + 4 + length);
    return { status, head, headers, body: Buffer.from(body) };
  }

  /** A chunked body: `body` is decoded, `wire` the bytes as sent (chunk framing included). */
  #takeChunked(start: number, status: number, head: string, headers: Record<string, string>): WireResponse | null {
    const buffer = this.#buffer;
    const parts: Buffer[] = [];
    let pos = start;
    for (;;) {
      const lineEnd = buffer.indexOf('\r\n', pos);
      if (lineEnd === -1) return null;
      const size = parseInt(buffer.subarray(pos, lineEnd).toString('latin1'), 16);
      if (size === 0) {
        // No trailers expected: the last chunk's line, then the final CRLF.
        if (buffer.length < lineEnd + 4) return null;
        const end = lineEnd + 4;
        this.#buffer = buffer.subarray(end);
        return { status, head, headers, body: Buffer.concat(parts), wire: Buffer.from(buffer.subarray(start, end)) };
      }
      if (buffer.length < lineEnd + 2 + size + 2) return null;
      parts.push(buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
      pos = lineEnd + 2 + size + 2;
    }
  }
}

/**
 * `request` answered twice: alone on a connection (the fast lane takes it when
 * it can), then twice in one write on another (never the lane's: node:http
 * answers both). `fast` is the lone answer, `full` and `second` the full path's.
 */
export async function bothLanes(port: number, request: string): Promise<{ fast: WireResponse; full: WireResponse; second: WireResponse }> {
  const head = request.startsWith('HEAD ');
  const alone = await RawConnection.open(port);
  const fast = await alone.exchange(request);
  alone.destroy();
  const pipelined = await RawConnection.open(port);
  pipelined.write(request + request);
  const full = await pipelined.read({ head });
  const second = await pipelined.read({ head });
  pipelined.destroy();
  return { fast, full, second };
}
