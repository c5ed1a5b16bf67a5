/**
 * The `static` handler: files from a folder, at WhiteNoise's and nginx's
 * level — validators and 304, ranges, precompressed sidecars, index files,
 * an SPA fallback, immutable caching for hashed names — and safe on the
 * public internet (no dotfiles, nothing outside the root, no listings).
 *
 * The route prefix is not part of the file path: `'/static/': { static:
 * './staticfiles' }` serves /static/css/app.css from ./staticfiles/css/app.css
 * (nginx's `alias`, WhiteNoise's prefix). With `stripPrefix`, the handler
 * sees the path after the strip instead.
 *
 * Hot path (a small file seen in the last second): method check, one Map
 * lookup, the precomputed head, one write. Hotter still, on plain HTTP/1.1:
 * `prebuilt` gives the worker's fast lane the whole response as bytes. See file-cache.ts for freshness,
 * resolve.ts for the security rules, send.ts for the response.
 */
import type { StaticHandlerPlan } from '../../config/plan.ts';
import type { CompileEnv, RequestContext, RouteHandler } from '../../worker/context.ts';
import { sendError } from '../../worker/error-response.ts';
import { FileCache, type Answer } from './file-cache.ts';
import { chooseVariant, sendEntry, type StreamSettings } from './send.ts';
import type { PrebuiltResponse } from '../../worker/prebuilt-response.ts';

/** The numbers behind the handler's memory and timing, with the reasons for each default. */
export interface StaticTuning {
  /**
   * Files up to this size are served from memory (one `res.end(buffer)`); larger ones are streamed.
   * 1 MiB keeps bundles, fonts and most images in memory: from memory a 1 MiB file is served at about
   * nginx's sendfile rate, streamed at half of it (docs/benchmarks.md). Within `maxBytes`.
   */
  smallFileBytes: number;
  /** How long a resolved path is trusted before the disk is checked again: changes show within about this long. */
  revalidateMs: number;
  /** Per route and worker: paths remembered. */
  maxPaths: number;
  /** Per route and worker: bytes of small files kept in memory. */
  maxBytes: number;
  /**
   * Read size when streaming, into one buffer per response: what a client that stops reading holds in memory,
   * besides its socket buffers. 256 KiB: 64 KiB reads cost a third more CPU per MiB; larger ones gained little.
   */
  chunkBytes: number;
  /** A client that takes no bytes of a streamed file for this long is disconnected (nginx's send_timeout). */
  sendTimeoutMs: number;
}

export const STATIC_TUNING: Readonly<StaticTuning> = {
  smallFileBytes: 1024 * 1024,
  revalidateMs: 1000,
  maxPaths: 10_000,
  maxBytes: 32 * 1024 * 1024,
  chunkBytes: 256 * 1024,
  sendTimeoutMs: 60_000,
};

const ALLOW = { allow: 'GET, HEAD' };

/** `overrides` are for tests (a short send timeout); the config does not expose them. */
export function createStaticHandler(plan: StaticHandlerPlan, env: CompileEnv, overrides: Partial<StaticTuning> = {}): RouteHandler {
  const tuning = { ...STATIC_TUNING, ...overrides };
  const route = env.route;
  // With stripPrefix the pipeline already cut the path; otherwise the route prefix is cut here.
  const prefixLength = route.middleware.stripPrefix === null && route.prefix !== '/' ? route.prefix.length : 0;
  const cache = new FileCache({
    root: plan.root,
    index: plan.index,
    spa: plan.spa,
    prefixLength,
    entry: { cacheControl: plan.cacheControl, immutable: plan.immutable, smallFileBytes: tuning.smallFileBytes },
    revalidateMs: tuning.revalidateMs,
    maxPaths: tuning.maxPaths,
    maxBytes: tuning.maxBytes,
    logger: env.logger,
  });
  const settings: StreamSettings = { chunkBytes: tuning.chunkBytes, sendTimeoutMs: tuning.sendTimeoutMs, logger: env.logger };

  function answer(ctx: RequestContext, found: Answer, retried: boolean): void | Promise<void> {
    switch (found.kind) {
      case 'file': {
        const outcome = sendEntry(ctx, found.entry!, settings);
        if (outcome === undefined) return;
        return outcome.then((result) => {
          if (result === 'sent') return;
          // The file changed between the last check and now: look again, once.
          cache.invalidate(ctx.handlerPath);
          if (retried) return sendError(ctx.res, 503, 'the file is being replaced; try again');
          return cache.lookup(ctx.handlerPath).then((fresh) => answer(ctx, fresh, true));
        });
      }
      case 'redirect':
        return redirectToFolder(ctx);
      case 'forbidden':
        return sendError(ctx.res, 403);
      default:
        return sendError(ctx.res, 404);
    }
  }

  async function resolveAndAnswer(ctx: RequestContext): Promise<void> {
    let found: Answer;
    try {
      found = await cache.lookup(ctx.handlerPath);
    } catch (error) {
      env.logger.error({ err: error, path: ctx.handlerPath, route: route.at }, 'static: could not read the file system; answered 500');
      return sendError(ctx.res, 500);
    }
    return answer(ctx, found, false);
  }

  return {
    handle(ctx) {
      const method = ctx.method;
      if (method !== 'GET' && method !== 'HEAD') return sendError(ctx.res, 405, undefined, { headers: ALLOW });
      const found = cache.peek(ctx.handlerPath, ctx.startTime);
      if (found !== undefined) return answer(ctx, found, false);
      return resolveAndAnswer(ctx);
    },
    prebuilt(path, acceptEncoding, now) {
      const found = cache.peek(path, now);
      if (found !== undefined) return prebuiltFor(found, acceptEncoding);
      return cache.lookup(path).then(
        (fresh) => prebuiltFor(fresh, acceptEncoding),
        // The full path looks again, and logs and answers the error.
        () => null,
      );
    },
    close() {
      cache.clear();
    },
  };
}

/** The ready 200 of a small file in memory; null for anything else (404, redirect, a file streamed from disk). */
function prebuiltFor(found: Answer, acceptEncoding: string | undefined): PrebuiltResponse | null {
  return found.kind === 'file' ? chooseVariant(found.entry!, acceptEncoding).prebuilt : null;
}

/**
 * A folder asked for without its slash: send the client to `path/`. The
 * Location is built from the normalized path, which always starts with one
 * '/' (repeated slashes are merged), so it stays on this site: never
 * `//evil.com/`. The query is kept.
 */
function redirectToFolder(ctx: RequestContext): void {
  const path = ctx.encodedPath.replace(/^\/+/, '/');
  const location = `${path}/${ctx.query}`;
  const body = `Redirecting to ${location}\n`;
  ctx.res.writeHead(308, { location, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  if (ctx.method === 'HEAD') ctx.res.end();
  else ctx.res.end(body);
}
