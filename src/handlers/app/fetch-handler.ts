/**
 * A fetch app (`export default { fetch }`, Hono, …): a `Request` built lazily
 * from the Node request, the app's `Response` written back. Loaded only for an
 * app of this kind: Request and Response are Node's undici, ~7 MB of every
 * process that touches them, which an Express or Koa worker never needs.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { RequestContext, RouteHandler } from '../../worker/context.ts';
import { writeRawError } from '../../worker/error-response.ts';
import { responseOnSocket } from '../../worker/pipeline.ts';
import { webSockets } from '../../worker/websockets.ts';
import type { BunWebSockets, UpgradeOptions } from './bun-websocket.ts';
import { LazyRequest } from './lazy-request.ts';
import { NativeResponse } from './light-response.ts';
import { isThenable, type FetchHandler, type FetchInfo } from './load.ts';
import { failUpgrade, reportAppError, reportServerError, type AppErrorSink } from './report.ts';
import { emitUpgrade } from './upgrade.ts';
import { writeResponse } from './write-response.ts';

export { installLightResponse } from './light-response.ts';

class Info implements FetchInfo {
  readonly #ctx: RequestContext;
  /** Set on an upgrade request of an app with `websocket` handlers: then `upgrade()` may accept it. */
  readonly #bun: BunWebSockets | null;
  /** What the app passed to `upgrade()`, once it did. */
  upgradeOptions: UpgradeOptions | null = null;
  constructor(ctx: RequestContext, bun: BunWebSockets | null = null) {
    this.#ctx = ctx;
    this.#bun = bun;
  }
  /** Bun's `server.upgrade(request, { data, headers })`: true when this request becomes a WebSocket once fetch returns. */
  upgrade(_request: Request, options?: UpgradeOptions): boolean {
    if (this.#bun === null || this.upgradeOptions !== null) return false;
    this.upgradeOptions = options ?? {};
    return true;
  }
  /** Bun's `server.publish(topic, message)`: to every subscriber in this worker. */
  publish(topic: string, message: string | ArrayBufferView | ArrayBuffer): number {
    return this.#bun?.publish(topic, message, null) ?? 0;
  }
  /** Bun's `server.requestIP(request)`. */
  requestIP(): { address: string; port: number; family: string } {
    const address = this.#ctx.clientIp;
    return { address, port: this.#ctx.req.socket?.remotePort ?? 0, family: address.includes(':') ? 'IPv6' : 'IPv4' };
  }
  get remoteAddr() {
    return { hostname: this.#ctx.clientIp, port: this.#ctx.req.socket?.remotePort ?? 0, transport: 'tcp' as const };
  }
  get incoming() {
    return this.#ctx.req as IncomingMessage;
  }
  get outgoing() {
    return this.#ctx.res as ServerResponse;
  }
}

export function fetchHandler(fetch: FetchHandler, maxBody: number, env: AppErrorSink, server: Server | null, bun: BunWebSockets | null): RouteHandler {
  return {
    answeredServerError: reportServerError(env),
    upgrade(ctx, socket, head) {
      if (server !== null && server.listenerCount('upgrade') > 0) {
        emitUpgrade(server, ctx, socket, head);
        return;
      }
      if (bun === null) {
        writeRawError(socket, 501, 'the app does not take WebSockets (export websocket handlers beside fetch)');
        return;
      }
      if (!webSockets.admit(ctx, socket)) return;
      const info = new Info(ctx, bun);
      const answer = (response: unknown) => {
        if (info.upgradeOptions !== null) bun.accept(ctx.req as IncomingMessage, socket, head, info.upgradeOptions, ctx.clientIp);
        else if (response instanceof NativeResponse) void writeResponse(response, responseOnSocket(ctx.req as IncomingMessage, socket));
        else writeRawError(socket, 500);
      };
      try {
        const result = fetch(new LazyRequest(ctx, maxBody) as unknown as Request, info);
        if (isThenable(result)) result.then(answer, (error) => failUpgrade(env, socket, error));
        else answer(result);
      } catch (error) {
        failUpgrade(env, socket, error);
      }
    },
    handle(ctx) {
      const request = new LazyRequest(ctx, maxBody);
      let result: Response | Promise<Response>;
      try {
        result = fetch(request as unknown as Request, new Info(ctx, null));
      } catch (error) {
        reportAppError(env, ctx, error);
        return;
      }
      if (isThenable(result)) {
        ctx.res.once('close', () => {
          if (!ctx.res.writableFinished) request.abort(new Error('the client closed the connection'));
        });
        return Promise.resolve(result).then(
          (response) => send(response, ctx, env),
          (error) => reportAppError(env, ctx, error),
        );
      }
      return send(result, ctx, env);
    },
  };
}

function send(response: unknown, ctx: RequestContext, env: AppErrorSink): void | Promise<void> {
  if (!(response instanceof NativeResponse)) {
    reportAppError(env, ctx, new TypeError(`the fetch handler returned ${response === undefined ? 'undefined' : typeof response}, not a Response`));
    return;
  }
  try {
    const written = writeResponse(response, ctx.res);
    if (written) return written.catch((error) => reportAppError(env, ctx, error));
  } catch (error) {
    reportAppError(env, ctx, error);
  }
}

