/**
 * HTTP clients for tests: a plain one on node:http (full control of headers,
 * agents and sockets) and a raw one that writes bytes to a socket, for the
 * malformed requests a real client library would refuse to send.
 */
import { request as httpRequest, type Agent, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';

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
}

/** One request with node:http; the path is sent exactly as written in `url` after the host. */
export function request(url: string, options: RequestOptions = {}): Promise<SimpleResponse> {
  const parsed = new URL(url);
  const path = url.slice(url.indexOf('/', url.indexOf('//') + 2)) || '/';
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: parsed.hostname.replace(/^\[|\]$/g, ''),
        port: parsed.port || 80,
        path,
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: options.agent,
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
