/**
 * The HTTP/1.1 response object of Kirin's servers. It tells the request path
 * when the response is over (finished, or cut short by the client) without a
 * `close` listener per request: the hook rides on the object and runs from its
 * own `emit('close')`.
 */
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { NodeResponse } from './context.ts';

const kOnClose = Symbol('kirin.onClose');
/** What the request path keeps on a response until it is over (pipeline.ts). */
export const kWatchCtx = Symbol('kirin.ctx');
export const kWatchStart = Symbol('kirin.start');
export const kWatchBytes = Symbol('kirin.bytesBefore');

export class KirinServerResponse extends ServerResponse {
  declare [kOnClose]: ((res: NodeResponse) => void) | undefined;
  declare [kWatchCtx]: unknown;
  declare [kWatchStart]: number;
  declare [kWatchBytes]: number;

  // Spelled out: the implicit derived constructor spreads its arguments on every request.
  constructor(req: IncomingMessage, options?: object) {
    // @ts-expect-error node:http passes options (highWaterMark, rejectNonStandardBodyWrites) that @types/node leaves out.
    super(req, options);
    // Present from birth, so every response has one shape (no hidden-class change per request when they are set).
    this[kOnClose] = undefined;
    this[kWatchCtx] = null;
    this[kWatchStart] = 0;
    this[kWatchBytes] = 0;
  }

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'close') {
      const onClose = this[kOnClose];
      if (onClose !== undefined) {
        this[kOnClose] = undefined;
        onClose(this as NodeResponse);
      }
    }
    return (super.emit as (event: string | symbol, ...args: unknown[]) => boolean)(event, ...args);
  }
}

/** Calls `onClose(res)` once when the response is over; other response classes (HTTP/2) get a listener. */
export function whenResponseCloses(res: NodeResponse, onClose: (res: NodeResponse) => void): void {
  if (res instanceof KirinServerResponse) res[kOnClose] = onClose;
  else res.once('close', () => onClose(res));
}
