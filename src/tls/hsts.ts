/**
 * The mark a TLS site's step puts on a response (site-middleware.ts) and the
 * https listeners' responses read (responses.ts). Apart from both so that the
 * site step — compiled into every worker with a TLS site — does not load
 * node:http2 into workers without an https listener.
 */
export const HSTS = 'strict-transport-security';
/** The Strict-Transport-Security value this response gets, set by the site middleware. */
export const kHsts: unique symbol = Symbol('kirin.hsts');

export interface HstsResponse {
  [kHsts]: string | null;
}
