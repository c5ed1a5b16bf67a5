/**
 * The HTTP/1.1 response object of Kirin's servers. It tells the request path
 * when the response is over (finished, or cut short by the client) without a
 * `close` listener per request: the hook rides on the object and runs from its
 * own `emit('close')`.
 *
 * That `emit` is the object's own property, set at birth, not a prototype
 * method: apps replace a response's prototype (Express sets it to its
 * `app.response`, built on node:http's ServerResponse), and every response
 * must still reach the access log, the metrics and the error report, whatever
 * the app made of it.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { ServerResponse } from '../util/node-http.ts';
import type { NodeResponse } from './context.ts';

export const kOnClose = Symbol('kirin.onClose');
/** What the request path keeps on a response until it is over (pipeline.ts). */
export const kWatchCtx = Symbol('kirin.ctx');
export const kWatchStart = Symbol('kirin.start');
export const kWatchBytes = Symbol('kirin.bytesBefore');
/** The request target as received: the app may rewrite `req.url` (stripPrefix, Express's routers). */
export const kWatchUrl = Symbol('kirin.url');
/**
 * A response class's way to send a whole small response at once, past the
 * generic writeHead + end (HTTP/2's, tls/responses.ts). Returns false when it
 * cannot, and the caller goes the generic way.
 */
export const kSendWhole = Symbol('kirin.sendWhole');

export interface WholeSender {
  [kSendWhole]?(status: number, head: readonly string[], body: string): boolean;
}

export class KirinServerResponse extends ServerResponse {
  declare [kOnClose]: ((res: NodeResponse) => void) | undefined;
  declare [kWatchCtx]: unknown;
  declare [kWatchStart]: number;
  declare [kWatchBytes]: number;
  declare [kWatchUrl]: string;

  // Spelled out: the implicit derived constructor spreads its arguments on every request.
  constructor(req: IncomingMessage, options?: object) {
    // @ts-expect-error node:http passes options (highWaterMark, rejectNonStandardBodyWrites) that @types/node leaves out.
    super(req, options);
    initResponseHooks(this);
  }
}

/** What the request path keeps on a response of Kirin's classes (this one, and HTTP/2's in tls/responses.ts). */
export interface ResponseHooks {
  [kOnClose]: ((res: NodeResponse) => void) | undefined;
  [kWatchCtx]: unknown;
  [kWatchStart]: number;
  [kWatchBytes]: number;
  [kWatchUrl]: string;
}

type Emit = (event: string | symbol, ...args: unknown[]) => boolean;
/** Node's response classes (HTTP/1.1 and HTTP/2) emit with EventEmitter's own method. */
const emitEvent: Emit = EventEmitter.prototype.emit;

/** A response's own `emit`: runs the close hook, then emits as usual. */
export function emitWithCloseHook(this: ResponseHooks, event: string | symbol): boolean {
  if (event === 'close') runCloseHook(this);
  // `arguments` as it is: V8 passes it on without copying, where a rest parameter would allocate an array per event.
  return emitEvent.apply(this, arguments as unknown as Parameters<Emit>);
}

/**
 * Sets the hooks' fields in the constructor: present from birth, every response
 * has one shape (no hidden-class change per request when they are set). `emit`
 * is among them so that it outlives a prototype the app swaps in.
 */
export function initResponseHooks(res: ResponseHooks): void {
  res[kOnClose] = undefined;
  res[kWatchCtx] = null;
  res[kWatchStart] = 0;
  res[kWatchBytes] = 0;
  res[kWatchUrl] = '';
  (res as unknown as { emit: Emit }).emit = emitWithCloseHook;
}

/** Runs the close hook once; the responses' own emit('close') calls it. */
function runCloseHook(res: ResponseHooks): void {
  const onClose = res[kOnClose];
  if (onClose !== undefined) {
    res[kOnClose] = undefined;
    onClose(res as unknown as NodeResponse);
  }
}

/** Calls `onClose(res)` once when the response is over; response classes without the hook get a listener. */
export function whenResponseCloses(res: NodeResponse, onClose: (res: NodeResponse) => void): void {
  if (kOnClose in res) (res as unknown as KirinServerResponse)[kOnClose] = onClose;
  else res.once('close', () => onClose(res));
}
