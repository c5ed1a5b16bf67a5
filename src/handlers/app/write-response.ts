/**
 * Writes a fetch `Response` to a Node response.
 *
 * Fast path: a LightResponse whose body is a string, bytes or nothing goes out
 * with one writeHead and one end — no stream, no Headers object unless the
 * handler built one. Everything else (native Responses, stream bodies) is
 * streamed with backpressure, flushing each chunk so server-sent events arrive
 * as they are produced.
 */
import type { NodeResponse } from '../../worker/context.ts';
import { kSendWhole, type WholeSender } from '../../worker/outgoing.ts';
import { isLightResponse, kFast, type FastParts, type LightResponse } from './light-response.ts';

const TEXT_PLAIN = 'text/plain;charset=UTF-8';

/** Writes the response; resolves when the body is handed to the socket. */
export function writeResponse(response: Response, res: NodeResponse): void | Promise<void> {
  const fast = (response as unknown as LightResponse)[kFast];
  if (fast !== undefined) return writeFast(fast, res);
  const native = isLightResponse(response) ? response.toNative() : response;
  return writeNative(native, res);
}

/**
 * `content-type: text/plain` plus a content-length, per length: the head of
 * `new Response('text')`, built once. Frozen: shared by every such response,
 * and the https listener's responses reuse their copy with HSTS while the list
 * is the same (tls/responses.ts).
 */
const plainTextHeads: (readonly string[] | undefined)[] = [];

function plainTextHead(length: number): readonly string[] {
  if (length >= 4096) return ['content-type', TEXT_PLAIN, 'content-length', String(length)];
  return (plainTextHeads[length] ??= Object.freeze(['content-type', TEXT_PLAIN, 'content-length', String(length)]));
}

/** A LightResponse's parts. A body here is never on a 204, 205 or 304: LightResponse refuses those, as Response does. */
function writeFast(parts: FastParts, res: NodeResponse): void {
  const { status, body } = parts;
  const headers = parts.headers;
  if (headers === undefined && typeof body === 'string' && parts.statusText === undefined) {
    // The commonest response of all: a string and nothing else.
    const head = plainTextHead(Buffer.byteLength(body));
    if ((res as NodeResponse & WholeSender)[kSendWhole]?.(status, head, body) === true) return;
    res.writeHead(status, head as never);
    res.end(body);
    return;
  }
  const flat: string[] = [];
  let hasType = false;
  let hasLength = false;
  if (headers !== undefined) {
    if (headers instanceof Headers) {
      for (const [name, value] of headers) {
        if (name === 'set-cookie') continue;
        if (name === 'content-type') hasType = true;
        else if (name === 'content-length') hasLength = true;
        flat.push(name, value);
      }
      for (const cookie of headers.getSetCookie()) flat.push('set-cookie', cookie);
    } else if (Array.isArray(headers)) {
      for (const [name, value] of headers as [string, string][]) {
        const lower = name.toLowerCase();
        if (lower === 'content-type') hasType = true;
        else if (lower === 'content-length') hasLength = true;
        flat.push(name, value);
      }
    } else {
      const record = headers as Record<string, string>;
      for (const name in record) {
        const value = record[name]!;
        if (name.length === 12 && name.toLowerCase() === 'content-type') hasType = true;
        else if (name.length === 14 && name.toLowerCase() === 'content-length') hasLength = true;
        flat.push(name, value);
      }
    }
  }
  if (body === null) {
    if (parts.statusText) res.writeHead(status, parts.statusText, flat as never);
    else res.writeHead(status, flat as never);
    res.end();
    return;
  }
  if (!hasType && typeof body === 'string') flat.push('content-type', TEXT_PLAIN);
  if (!hasLength) {
    flat.push('content-length', String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength));
  }
  if (parts.statusText) res.writeHead(status, parts.statusText, flat as never);
  else res.writeHead(status, flat as never);
  res.end(body);
}

async function writeNative(response: Response, res: NodeResponse): Promise<void> {
  const flat: string[] = [];
  for (const [name, value] of response.headers) {
    if (name !== 'set-cookie') flat.push(name, value);
  }
  for (const cookie of response.headers.getSetCookie()) flat.push('set-cookie', cookie);
  const body = response.body;
  if (body === null) {
    res.writeHead(response.status, flat as never);
    res.end();
    return;
  }
  res.writeHead(response.status, flat as never);
  // Send the head now: a stream may take a while to produce its first chunk (SSE).
  if ('flushHeaders' in res) res.flushHeaders();
  const reader = body.getReader();
  const cancel = () => {
    reader.cancel().catch(() => {});
  };
  res.once('close', cancel);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (res.destroyed) return;
      if (!res.write(value)) await waitForDrain(res);
    }
    res.end();
  } catch (error) {
    // The body stream failed half way: the client must see a broken response, not a short one.
    res.destroy(error as Error);
  } finally {
    res.off('close', cancel);
  }
}

function waitForDrain(res: NodeResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
