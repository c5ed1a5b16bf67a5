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
 */
import { pathToFileURL } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { KirinError } from '../../errors.ts';
import { describe } from '../../config/issues.ts';

export type FetchHandler = (request: Request, info: FetchInfo) => Response | Promise<Response>;
export type NodeListener = (req: IncomingMessage, res: ServerResponse) => void;

export interface FetchInfo {
  /** The client as Kirin resolved it (Deno's `info.remoteAddr` shape). */
  remoteAddr: { hostname: string; port: number; transport: 'tcp' };
  /** Node's request and response, for adapters that want them (@hono/node-server's getConnInfo reads `incoming`). */
  incoming: IncomingMessage;
  outgoing: ServerResponse;
}

export type LoadedApp = { kind: 'fetch'; fetch: FetchHandler; description: string } | { kind: 'node'; listener: NodeListener; description: string };

const ACCEPTED =
  'Kirin accepts a fetch handler (an object with a fetch(request) method such as a Hono app, or a function (request) => Response) or a Node listener ((req, res) => void, such as an Express app or Koa\'s app.callback())';

/** Imports `modulePath` and returns its `exportName` export as a handler. */
export async function loadApp(modulePath: string, exportName: string): Promise<LoadedApp> {
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(pathToFileURL(modulePath).href)) as Record<string, unknown>;
  } catch (error) {
    throw new KirinError('KIRIN_ERR_APP_LOAD', `${modulePath} threw while loading: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
  if (!(exportName in namespace)) {
    const names = Object.keys(namespace).filter((n) => n !== '__esModule');
    throw new KirinError(
      'KIRIN_ERR_APP_EXPORT',
      `${modulePath} has no export named "${exportName}"${names.length ? ` (it exports: ${names.join(', ')}); use PATH:NAME to pick one` : ' (it exports nothing)'}. ${ACCEPTED}.`,
    );
  }
  let value = namespace[exportName];
  // A CommonJS module imported from ESM puts module.exports on `default`.
  if (exportName === 'default' && isPlainModuleObject(value) && 'default' in (value as object) && !('fetch' in (value as object))) {
    value = (value as { default: unknown }).default;
  }
  if (isThenable(value)) value = await value;
  return classify(value, `${modulePath}:${exportName}`);
}

export async function classify(value: unknown, where: string): Promise<LoadedApp> {
  if (value !== null && (typeof value === 'object' || typeof value === 'function')) {
    const candidate = value as Record<string, unknown>;
    if (typeof candidate.fetch === 'function') {
      const fetch = (candidate.fetch as FetchHandler).bind(value);
      return { kind: 'fetch', fetch, description: 'fetch handler (object with fetch)' };
    }
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
