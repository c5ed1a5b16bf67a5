/**
 * Loading the user's app and deciding what kind of handler it exports.
 *
 * Accepted, checked in this order:
 *  1. an object with a `fetch(request, info)` method (`export default { fetch }`,
 *     a Hono app, an itty-router, an Elysia app on Node …);
 *  2. a function of at most one parameter, `(request) => Response`;
 *  3. a Node listener `(req, res)`: an Express/connect app, Koa's `app.callback()`,
 *     any function of two or more parameters;
 *  4. a Fastify instance (its `routing` function, after `ready()`).
 * A promise (top-level `export default await …` or an async factory result) is awaited.
 *
 * An app that calls listen() itself (`app.listen(3000)`, `fastify.listen`, a NestJS
 * `bootstrap()`) is served through the HTTP server it listened on (worker/app-listen.ts):
 *  - a server listened on while the module loads wins over the default export
 *    (`module.exports = app; app.listen(3000)` is one app, served as it listens);
 *    `PATH:NAME` picks an export and wins over listen;
 *  - a module that exports nothing may still listen later (an un-awaited async
 *    `bootstrap()`): Kirin waits for its first listen() up to `listenWaitMs`, and a
 *    promise the app leaves rejected meanwhile fails the load with its error.
 * So the worker is ready once the app has listened, or once the module has evaluated
 * for an exported handler.
 */
import { pathToFileURL } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Server } from '../../util/node-http.ts';
import { isWebSocketHandlers, type BunWebSocketHandlers } from './bun-websocket.ts';
import { KirinError } from '../../errors.ts';
import { moduleFormatHint } from './module-format.ts';
import { describe } from '../../config/issues.ts';
import { endListenSession, startListenSession, type AppServer, type ListenSession } from '../../worker/app-listen.ts';

export type FetchHandler = (request: Request, info: FetchInfo) => Response | Promise<Response>;
export type NodeListener = (req: IncomingMessage, res: ServerResponse) => void;

export interface FetchInfo {
  /** The client as Kirin resolved it (Deno's `info.remoteAddr` shape). */
  remoteAddr: { hostname: string; port: number; transport: 'tcp' };
  /** Node's request and response, for adapters that want them (@hono/node-server's getConnInfo reads `incoming`). */
  incoming: IncomingMessage;
  outgoing: ServerResponse;
}

/** What every kind of app may bring besides its handler (docs/app-server.md, "WebSockets"). */
interface AppExtras {
  /**
   * An `http.Server` the app owns (exported, listened on by the app — worker/app-listen.ts —, or built by
   * Kirin for `setup`): its 'request' and 'upgrade' events are the app's.
   */
  server?: Server;
  /** The module's `setup(server)` export: called once with the server before the first request. */
  setup?: (server: Server) => unknown;
  /** Bun-style `websocket` handlers beside `fetch`. */
  websocket?: BunWebSocketHandlers;
}

export type LoadedApp = ({ kind: 'fetch'; fetch: FetchHandler; description: string } | { kind: 'node'; listener: NodeListener; description: string }) & AppExtras;

const ACCEPTED =
  "Kirin accepts a fetch handler (an object with a fetch(request) method such as a Hono app, or a function (request) => Response), a Node listener ((req, res) => void, such as an Express app or Koa's app.callback()), or an app that calls listen() itself (app.listen(3000))";

export interface LoadOptions {
  /** How long a module that exports nothing may take to call listen() (an un-awaited async bootstrap). */
  listenWaitMs: number;
}

/** Imports `modulePath` and returns its `exportName` export, or the server it listened on, as a handler. */
export async function loadApp(modulePath: string, exportName: string, options: LoadOptions): Promise<LoadedApp> {
  const listens = startListenSession();
  try {
    return await loadModule(modulePath, exportName, listens, options);
  } finally {
    if (listens) endListenSession(listens);
  }
}

async function loadModule(modulePath: string, exportName: string, listens: ListenSession | null, options: LoadOptions): Promise<LoadedApp> {
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(pathToFileURL(modulePath).href)) as Record<string, unknown>;
  } catch (error) {
    throw loadError(modulePath, error);
  }
  const listensByDefault = listens !== null && exportName === 'default';
  if (listensByDefault && listens.servers.length > 0) return serveListened(listens.servers[0]!);
  if (!(exportName in namespace)) {
    const names = Object.keys(namespace).filter((n) => n !== '__esModule');
    const missing = `${modulePath} has no export named "${exportName}"${names.length ? ` (it exports: ${names.join(', ')}); use PATH:NAME to pick one` : ' (it exports nothing)'}`;
    if (listensByDefault) return waitForListen(modulePath, listens, missing, options.listenWaitMs);
    throw new KirinError('KIRIN_ERR_APP_EXPORT', `${missing}. ${ACCEPTED}.`);
  }
  let value = namespace[exportName];
  // A CommonJS module imported from ESM puts module.exports on `default`.
  if (exportName === 'default' && isPlainModuleObject(value) && 'default' in (value as object) && !('fetch' in (value as object))) {
    value = (value as { default: unknown }).default;
  }
  // A CommonJS module that never set module.exports (a NestJS main.js calling bootstrap()) exports {}.
  if (listensByDefault && isPlainModuleObject(value) && Object.keys(value as object).length === 0) {
    return waitForListen(modulePath, listens, `${modulePath} exports nothing`, options.listenWaitMs);
  }
  if (isThenable(value)) value = await value;
  const app = await classify(value, `${modulePath}:${exportName}`);
  const setup = namespace.setup ?? (namespace.default as { setup?: unknown } | undefined)?.setup;
  if (typeof setup === 'function') app.setup = setup as AppExtras['setup'];
  return app;
}

function loadError(modulePath: string, error: unknown): KirinError {
  const hint = moduleFormatHint(modulePath, error);
  const message = `${modulePath} threw while loading: ${(error as Error)?.message ?? String(error)}${hint === null ? '' : `\n${hint}`}`;
  return new KirinError('KIRIN_ERR_APP_LOAD', message, { cause: error, detail: hint ?? undefined });
}

/** The server the app listened on is the app: its 'request' and 'upgrade' listeners (Express, Koa, Fastify, Socket.IO …) run as written. */
function serveListened({ server, asked }: AppServer): LoadedApp {
  return serverApp(server, `the HTTP server the app listened on (${asked})`);
}

/** An http.Server as the app (handlers/app/index.ts emits the routed requests and upgrades on it). */
function serverApp(server: Server, description: string): LoadedApp {
  return { kind: 'node', listener: (req, res) => server.emit('request', req, res), server, description };
}

/**
 * A module that exported nothing may be listening soon (`bootstrap()` awaiting a
 * database first). Its first listen() makes it ready; a promise it leaves
 * rejected meanwhile is its load failing; silence past `waitMs` is an app error.
 */
async function waitForListen(modulePath: string, listens: ListenSession, found: string, waitMs: number): Promise<LoadedApp> {
  let timer: NodeJS.Timeout | undefined;
  let onRejection: ((reason: unknown) => void) | undefined;
  const failure = new Promise<never>((_, reject) => {
    onRejection = (reason) => reject(loadError(modulePath, reason));
    process.on('unhandledRejection', onRejection);
    timer = setTimeout(
      () => reject(new KirinError('KIRIN_ERR_APP_EXPORT', `${found}, and it did not call listen() within ${waitMs / 1000} s (--timeout). ${ACCEPTED}.`)),
      waitMs,
    );
  });
  try {
    await Promise.race([listens.firstListen(), failure]);
    return serveListened(listens.servers[0]!);
  } finally {
    clearTimeout(timer);
    process.off('unhandledRejection', onRejection!);
  }
}

export async function classify(value: unknown, where: string): Promise<LoadedApp> {
  if (value !== null && (typeof value === 'object' || typeof value === 'function')) {
    const candidate = value as Record<string, unknown>;
    if (typeof candidate.fetch === 'function') {
      const fetch = (candidate.fetch as FetchHandler).bind(value);
      const app: LoadedApp = { kind: 'fetch', fetch, description: 'fetch handler (object with fetch)' };
      if (isWebSocketHandlers(candidate.websocket)) app.websocket = candidate.websocket;
      return app;
    }
    // http.createServer(app) exported as it is: its listeners are the app.
    if (value instanceof Server) return serverApp(value, 'Node http.Server');
    // Fastify: routing(req, res) once the instance is ready.
    if (typeof candidate.routing === 'function' && typeof candidate.ready === 'function' && typeof candidate.inject === 'function') {
      await (candidate.ready as () => Promise<void>).call(value);
      return { kind: 'node', listener: (candidate.routing as NodeListener).bind(value), description: 'Node listener (Fastify instance)' };
    }
  }
  if (typeof value === 'function') {
    const fn = value as (...args: unknown[]) => unknown;
    // Express and connect apps are (req, res, next) functions with .handle.
    if (typeof (fn as unknown as { handle?: unknown }).handle === 'function' || fn.length >= 2) {
      return { kind: 'node', listener: fn as NodeListener, description: 'Node listener (req, res)' };
    }
    return { kind: 'fetch', fetch: fn as FetchHandler, description: 'fetch handler (function)' };
  }
  throw new KirinError('KIRIN_ERR_APP_EXPORT', `${where} is ${describe(value)}, not an app. ${ACCEPTED}.`);
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}

function isPlainModuleObject(value: unknown): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
