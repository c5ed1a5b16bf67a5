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
 * lookup, the precomputed head, one write. See file-cache.ts for freshness,
 * resolve.ts for the security rules, send.ts for the response.
 */
import type { StaticHandlerPlan } from '../../config/plan.ts';
import type { CompileEnv, RequestContext, RouteHandler } from '../../worker/context.ts';
import { sendError } from '../../worker/error-response.ts';
import { FileCache, type Answer } from './file-cache.ts';
import { sendEntry, type StreamSettings } from './send.ts';

/** Files up to this size are served from memory; larger ones are streamed. */
export const SMALL_FILE_BYTES = 256 * 1024;
/** How long a resolved path is trusted before the disk is checked again. */
export const REVALIDATE_MS = 1000;
/** Per route and worker: paths remembered, and bytes of small files kept in memory. */
export const MAX_CACHED_PATHS = 10_000;
export const MAX_CACHED_BYTES = 32 * 1024 * 1024;
/** Read size when streaming a large file. */
export const STREAM_CHUNK_BYTES = 64 * 1024;
/** A client that takes no bytes of a streamed file for this long is disconnected (nginx's send_timeout). */
export const SEND_TIMEOUT_MS = 60_000;

const ALLOW = { allow: 'GET, HEAD' };

export function createStaticHandler(plan: StaticHandlerPlan, env: CompileEnv): RouteHandler {
  const route = env.route;
  // With stripPrefix the pipeline already cut the path; otherwise the route prefix is cut here.
  const prefixLength = route.middleware.stripPrefix === null && route.prefix !== '/' ? route.prefix.length : 0;
  const cache = new FileCache({
    root: plan.root,
    index: plan.index,
    spa: plan.spa,
    prefixLength,
    entry: { cacheControl: plan.cacheControl, immutable: plan.immutable, smallFileBytes: SMALL_FILE_BYTES },
    revalidateMs: REVALIDATE_MS,
    maxPaths: MAX_CACHED_PATHS,
    maxBytes: MAX_CACHED_BYTES,
    logger: env.logger,
  });
  const settings: StreamSettings = { chunkBytes: STREAM_CHUNK_BYTES, sendTimeoutMs: SEND_TIMEOUT_MS, logger: env.logger };

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
    close() {
      cache.clear();
    },
  };
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
