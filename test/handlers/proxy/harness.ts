/**
 * Test harness for the proxy: the real request path of a worker (config →
 * plan → compiled sites → pipeline → node:http server) in the test process,
 * on loopback, plus small upstream servers that record what reaches them.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { after } from 'node:test';
import { pino } from 'pino';
import { normalizeConfig } from '../../../src/config/normalize.ts';
import type { ServePlan } from '../../../src/config/plan.ts';
import { ClientResolver } from '../../../src/worker/client.ts';
import { compilePlan, type CompiledPlan } from '../../../src/worker/compile.ts';
import { Pipeline } from '../../../src/worker/pipeline.ts';
import { createHttpServer } from '../../../src/worker/servers.ts';

export interface Notification {
  type: string;
  payload: { route: string; url: string; healthy: boolean };
}

export interface Edge {
  url: string;
  port: number;
  plan: ServePlan;
  pipeline: Pipeline;
  notifications: Notification[];
  /** Requests the fast lane answered (relayed, for a proxy route). */
  laneAnswers(): number;
  close(): Promise<void>;
}

/** Compiles `config` (the kirin.config shape; sites default to tls: 'off') and serves it over plain HTTP on 127.0.0.1. */
export async function startEdge(config: Record<string, unknown>, options: { cwd?: string; prepare?: (plan: ServePlan) => void } = {}): Promise<Edge> {
  const sites: Record<string, unknown> = {};
  for (const [key, site] of Object.entries((config.sites ?? {}) as Record<string, Record<string, unknown>>)) sites[key] = { tls: 'off', ...site };
  const raw = { stateDir: '/tmp/kirin-proxy-harness', ...config, sites };
  const plan = normalizeConfig({ raw, file: null, cwd: options.cwd ?? process.cwd(), env: {} });
  options.prepare?.(plan);
  const logger = pino({ level: process.env.KIRIN_TEST_LOG ? 'debug' : 'silent' });
  const notifications: Notification[] = [];
  let laneAnswers = 0;
  const compiled: CompiledPlan = await compilePlan(
    plan,
    logger,
    () => Promise.reject(new Error('no master in this test')),
    (type, payload) => notifications.push({ type, payload: payload as Notification['payload'] }),
  );
  const pipeline = new Pipeline({
    sites: compiled.sites,
    resolver: new ClientResolver(plan.trustedProxies),
    limits: plan.limits,
    logger,
    accessLog: null,
    observer: { done() {}, fastLane: () => laneAnswers++ },
  });
  const server = createHttpServer(pipeline, plan.limits, logger, compiled.endsEmptyRequests);
  await listen(server);
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    plan,
    pipeline,
    notifications,
    laneAnswers: () => laneAnswers,
    async close() {
      await Promise.all(compiled.handlers.map((h) => h.close?.()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  body: string;
}

export interface Upstream {
  url: string;
  port: number;
  server: Server;
  seen: SeenRequest[];
  close(): Promise<void>;
}

export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** A node:http upstream on 127.0.0.1 (or a unix socket) that records each request with its body. */
export async function startUpstream(handler: UpstreamHandler = (_req, res) => res.end('ok'), options: { port?: number; socketPath?: string; readBody?: boolean } = {}): Promise<Upstream> {
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const record: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body: '' };
    seen.push(record);
    if (options.readBody === false) {
      handler(req, res, '');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      record.body = Buffer.concat(chunks).toString('utf8');
      handler(req, res, record.body);
    });
  });
  await listen(server, options.socketPath ?? options.port ?? 0);
  const port = options.socketPath ? 0 : (server.address() as AddressInfo).port;
  return {
    url: options.socketPath ? `http://unix:${options.socketPath}` : `http://127.0.0.1:${port}`,
    port,
    server,
    seen,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface RawUpstream {
  url: string;
  port: number;
  server: NetServer;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/** A TCP server on 127.0.0.1 that hands each connection to `onConnection` (an upstream that misbehaves on purpose). */
export async function startRawUpstream(onConnection: (socket: Socket) => void): Promise<RawUpstream> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    connections: () => count,
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function listen(server: Server, where: number | string = 0): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if (typeof where === 'string') server.listen(where, done);
    else server.listen(where, '127.0.0.1', done);
  });
}

export interface SlowPostResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** POSTs `chunks` pieces of `chunkSize` bytes, a few milliseconds apart (a long upload), and reads the answer. */
export function postSlowly(url: string, host: string, chunks = 50, chunkSize = 32 * 1024): Promise<SlowPostResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { host, 'content-type': 'application/octet-stream' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    let sent = 0;
    const pump = () => {
      if (sent++ >= chunks) return req.end();
      req.write(Buffer.alloc(chunkSize, 'p'));
      setTimeout(pump, 5);
    };
    pump();
  });
}

/** For a test file: servers started through these are closed after its last test; `cleanup` takes more steps. */
export function testServers() {
  const cleanup: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const step of cleanup.reverse()) await step();
  });
  const track = <T extends { close(): Promise<void> | void }>(server: T): T => {
    cleanup.push(() => server.close());
    return server;
  };
  return {
    cleanup,
    upstream: async (...args: Parameters<typeof startUpstream>): Promise<Upstream> => track(await startUpstream(...args)),
    /** A TCP server that accepts and does `onConnection`; counts connections. */
    rawUpstream: async (onConnection: (socket: Socket) => void): Promise<RawUpstream> => track(await startRawUpstream(onConnection)),
    edge: async (config: Record<string, unknown>): Promise<Edge> => track(await startEdge(config)),
  };
}
