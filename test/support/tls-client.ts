/**
 * TLS and HTTP/2 clients for the HTTPS tests: one request over a fresh TLS
 * connection (with the certificate, protocol and session it got), and a
 * node:http2 session. Names resolve to 127.0.0.1 by construction: the client
 * connects to the loopback port and sends the name as SNI and Host.
 */
import { spawn } from 'node:child_process';
import { connect as h2connect, type ClientHttp2Session, type IncomingHttpHeaders, type Settings } from 'node:http2';
import { connect, type PeerCertificate, type TLSSocket } from 'node:tls';

export interface TlsExchange {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** 'h2' or 'http/1.1' (what ALPN chose), false or null without ALPN. */
  alpn: string | false | null;
  protocol: string | null;
  cert: PeerCertificate;
  reused: boolean;
  /** A session to resume with (TLS 1.3 tickets arrive after the handshake). */
  session: Buffer | null;
}

export interface TlsRequestOptions {
  port: number;
  /** SNI and Host. */
  host: string;
  path?: string;
  ca?: string | Buffer;
  session?: Buffer | null;
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
}

/** One HTTP/1.1 request on a new TLS connection (Connection: close). */
export function tlsRequest(options: TlsRequestOptions): Promise<TlsExchange> {
  return new Promise((resolve, reject) => {
    const socket: TLSSocket = connect({
      host: '127.0.0.1',
      port: options.port,
      servername: options.host,
      ca: options.ca,
      rejectUnauthorized: options.ca !== undefined,
      session: options.session ?? undefined,
      ALPNProtocols: ['http/1.1'],
      minVersion: options.minVersion,
      maxVersion: options.maxVersion,
    });
    let session: Buffer | null = null;
    let raw = '';
    let info: Pick<TlsExchange, 'alpn' | 'protocol' | 'cert' | 'reused'> | null = null;
    const timer = setTimeout(() => socket.destroy(new Error('TLS request timed out')), 10_000);
    socket.on('session', (s: Buffer) => (session = s));
    socket.on('secureConnect', () => {
      info = { alpn: socket.alpnProtocol, protocol: socket.getProtocol(), cert: socket.getPeerCertificate(), reused: socket.isSessionReused() };
      socket.write(`GET ${options.path ?? '/'} HTTP/1.1\r\nHost: ${options.host}\r\nConnection: close\r\n\r\n`);
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (raw += chunk));
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (!info) return reject(new Error('connection closed before the handshake finished'));
      const [head = '', body = ''] = raw.split('\r\n\r\n', 2);
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ ...info, status: Number(statusLine.split(' ')[1]), headers, body, session });
    });
  });
}

/** A TLS handshake only: resolves with the certificate, or rejects with the alert. */
export function tlsHandshake(port: number, servername: string | undefined, alpn: string[] = ['h2', 'http/1.1']): Promise<{ cert: PeerCertificate; alpn: string | false | null }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, ALPNProtocols: alpn });
    socket.once('secureConnect', () => {
      const result = { cert: socket.getPeerCertificate(), alpn: socket.alpnProtocol };
      socket.destroy();
      resolve(result);
    });
    socket.once('error', reject);
  });
}

export interface H2Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** Fields after the body (none unless the server sent trailers). */
  trailers: IncomingHttpHeaders;
}

export function h2Session(port: number, host: string, ca: string | Buffer, settings?: Settings): ClientHttp2Session {
  // Connect to loopback whatever the name resolves to; the name goes in SNI and :authority.
  const session = h2connect(`https://${host}:${port}`, {
    settings,
    createConnection: () => connect({ host: '127.0.0.1', port, servername: host, ca, ALPNProtocols: ['h2'] }),
  });
  session.on('error', () => {});
  return session;
}

export function h2Get(session: ClientHttp2Session, path: string, headers: Record<string, string> = {}): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ...headers });
    let responseHeaders: IncomingHttpHeaders = {};
    let body = '';
    stream.setEncoding('utf8');
    let trailers: IncomingHttpHeaders = {};
    stream.on('response', (h) => (responseHeaders = h));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (chunk: string) => (body += chunk));
    stream.on('end', () => resolve({ status: Number(responseHeaders[':status']), headers: responseHeaders, body, trailers }));
    stream.on('error', reject);
    stream.end();
  });
}

/** `openssl s_client` against a loopback port, stdin closed so it exits after the handshake. */
export function opensslClient(port: number, args: string[]): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ ok: code === 0, output });
    });
  });
}
