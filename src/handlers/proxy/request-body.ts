/**
 * The client's request body as the upstream request reads it: streamed chunk by
 * chunk (never buffered), counted against the route's `maxBody` — the pipeline
 * refuses a too large Content-Length up front, but a chunked body only shows
 * its size as it arrives.
 *
 * The client's stream is read through `iterator({ destroyOnReturn: false })`:
 * when the upstream answers before reading the whole body (and the upstream
 * request ends early), the client's connection must stay up for that answer.
 */
import type { NodeRequest } from '../../worker/context.ts';
import { BodyTooLargeError } from '../body-too-large.ts';


/** True when the request carries no body, so nothing is streamed (and a retry is always safe). */
export function hasNoBody(req: NodeRequest): boolean {
  const headers = req.headers;
  if (req.httpVersionMajor === 2) {
    // HTTP/2: a request without body ends its stream with its headers.
    return (req as unknown as { stream?: { endAfterHeaders?: boolean } }).stream?.endAfterHeaders === true;
  }
  const length = headers['content-length'];
  if (length !== undefined) return length === '0';
  return headers['transfer-encoding'] === undefined;
}

/** Tracks whether any attempt has started reading the body (after which a retry would send it short). */
export interface BodyState {
  started: boolean;
  tooLarge: boolean;
}

export async function* streamBody(req: NodeRequest, limit: number, state: BodyState): AsyncGenerator<Buffer> {
  state.started = true;
  let total = 0;
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) {
      state.tooLarge = true;
      throw new BodyTooLargeError(limit);
    }
    yield chunk;
  }
}
