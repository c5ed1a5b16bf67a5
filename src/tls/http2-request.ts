/**
 * The HTTP/2 request object of Kirin's TLS listeners: the same lazy forwarding
 * view as HTTP/1.1's (worker/incoming.ts). Apart from it so that node:http2 is
 * loaded only by workers with an HTTPS listener.
 */
import { Http2ServerRequest, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { ReadableOptions } from 'node:stream';
import type { RequestContext } from '../worker/context.ts';
import { kForward, makeForwardingLazy } from '../worker/incoming.ts';

export class KirinHttp2ServerRequest extends Http2ServerRequest {
  declare [kForward]: RequestContext | undefined;

  // Spelled out: the implicit derived constructor spreads its arguments on every request.
  constructor(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, options: ReadableOptions, rawHeaders: readonly string[]) {
    super(stream, headers, options, rawHeaders);
    this[kForward] = undefined;
  }
}

makeForwardingLazy(KirinHttp2ServerRequest.prototype, Object.getOwnPropertyDescriptor(Http2ServerRequest.prototype, 'headers'));
