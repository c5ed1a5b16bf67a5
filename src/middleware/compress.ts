/**
 * `compress`: br or gzip for compressible dynamic responses — whoever writes
 * them (a fetch app, a Node listener app, a proxied upstream, static files
 * without a precompressed sidecar). The choice is made when the response head
 * is written (on-headers.ts), from what the response says about itself:
 *
 * - compressed when its Content-Type starts with one of `types`, it has no
 *   Content-Encoding, it is at least `minSize` bytes (when its length is known;
 *   a stream of unknown length is compressed), its status has a body worth
 *   compressing (not 1xx, 204, 206 or 304), and Cache-Control has no
 *   `no-transform`;
 * - with the coding the client's Accept-Encoding prefers (br on a tie);
 * - HEAD requests and protocol upgrades are left alone.
 *
 * Compressed responses get Content-Encoding, Vary: Accept-Encoding, no
 * Content-Length (the length changes) and no Accept-Ranges, and a strong ETag
 * becomes weak (W/"…"): the bytes differ from the identity representation's.
 * See compressing-response.ts for the write path.
 */
import { encodingPreference } from '../handlers/static/accept-encoding.ts';
import type { Middleware } from '../worker/context.ts';
import { compressResponse, type ContentCoding } from './compressing-response.ts';

export function compress(plan: { types: string[]; minSize: number }): Middleware {
  const options = { isCompressible: typeMatcher(plan.types), minSize: plan.minSize };
  return (ctx, next) => {
    const headers = ctx.req.headers;
    if (ctx.method === 'HEAD' || headers.upgrade !== undefined) return next();
    compressResponse(ctx.res, chooseCoding(headers['accept-encoding'] as string | undefined), options);
    return next();
  };
}

/** The client's favourite of br and gzip (q-values; br on a tie), or null: the same parser static sidecars use. */
export function chooseCoding(acceptEncoding: string | undefined): ContentCoding | null {
  const preference = encodingPreference(acceptEncoding);
  if (preference === 'none') return null;
  return preference.startsWith('br') ? 'br' : 'gzip';
}

/** Each entry is a prefix of the media type: 'text/' matches 'text/html; charset=utf-8'. */
export function typeMatcher(types: readonly string[]): (contentType: string) => boolean {
  const prefixes = types.map((t) => t.trim().toLowerCase());
  const cache = new Map<string, boolean>();
  return (contentType) => {
    let hit = cache.get(contentType);
    if (hit === undefined) {
      const semicolon = contentType.indexOf(';');
      const media = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
      hit = media !== '' && prefixes.some((p) => media.startsWith(p));
      if (cache.size >= 256) cache.clear();
      cache.set(contentType, hit);
    }
    return hit;
  };
}
