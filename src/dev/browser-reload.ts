/**
 * Reloading the browser after a restart (kirin dev only). Every HTML response
 * gets a small script that opens an EventSource to RELOAD_PATH and remembers
 * the generation that served the page. When a restart swaps generations the
 * old worker ends its event streams; the browser reconnects (after `retry`),
 * reaches the new generation, hears a different number and reloads. Nothing
 * is kept between workers: the generation number is the whole protocol.
 */
import type { OutgoingHttpHeader, OutgoingHttpHeaders } from 'node:http';
import type { NodeRequest, NodeResponse } from '../worker/context.ts';

export const RELOAD_PATH = '/_kirin/dev/reload';
/** How soon a browser tries again after its stream ended: a restart takes a few hundred ms. */
const RETRY_MS = 150;

type HeadersArgument = OutgoingHttpHeaders | OutgoingHttpHeader[] | undefined;

export class BrowserReload {
  readonly #generation: string;
  readonly #script: string;
  readonly #streams = new Set<NodeResponse>();
  #draining = false;

  constructor(generation: number) {
    this.#generation = String(generation);
    this.#script = `<script>(()=>{const g=${JSON.stringify(this.#generation)};const s=new EventSource(${JSON.stringify(RELOAD_PATH)});s.onmessage=(e)=>{if(e.data!==g){s.close();location.reload();}};})();</script>`;
  }

  /** Answers the event stream; true when `req` was for it. */
  answer(req: NodeRequest, res: NodeResponse): boolean {
    if (req.url !== RELOAD_PATH) return false;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    res.write(`retry: ${RETRY_MS}\ndata: ${this.#generation}\n\n`);
    // A draining worker still answers connections it had: send the browser on to the next generation.
    if (this.#draining) res.end();
    else {
      this.#streams.add(res);
      res.once('close', () => this.#streams.delete(res));
    }
    return true;
  }

  /** The worker is leaving: end the streams, so browsers reconnect to the new generation and the drain is not held up. */
  drain(): void {
    this.#draining = true;
    for (const res of this.#streams) res.end();
    this.#streams.clear();
  }

  /** Makes an HTML response carry the script (appended after the body, which browsers run). */
  injectInto(req: NodeRequest, res: NodeResponse): void {
    if (req.method === 'HEAD') return;
    const script = this.#script;
    const writeHead = res.writeHead;
    const end = res.end;
    let inject = false;
    const patched = res as unknown as { writeHead: (...args: unknown[]) => NodeResponse; end: (...args: unknown[]) => NodeResponse };
    patched.writeHead = function (this: NodeResponse, ...args: unknown[]) {
      const status = args[0] as number;
      const rest = args.slice(1);
      const at = typeof rest[0] === 'string' ? 1 : 0;
      const headers = rest[at] as HeadersArgument;
      const type = headerValue(headers, 'content-type') ?? res.getHeader('content-type');
      const encoding = headerValue(headers, 'content-encoding') ?? res.getHeader('content-encoding');
      if (status >= 200 && status !== 204 && status !== 304 && isHtml(type) && encoding === undefined) {
        inject = true;
        // The body grows: let Node frame it (chunked) instead of the length the handler computed.
        res.removeHeader('content-length');
        if (headers !== undefined) rest[at] = withoutLength(headers);
      }
      return (writeHead as (...args: unknown[]) => NodeResponse).call(this, status, ...rest);
    };
    patched.end = function (this: NodeResponse, ...args: unknown[]) {
      // end(body) before any writeHead: write the head now, or Node would set Content-Length from the body.
      if (!res.headersSent && isHtml(res.getHeader('content-type'))) res.writeHead(res.statusCode);
      if (!inject) return (end as (...args: unknown[]) => NodeResponse).apply(this, args);
      const callback = typeof args.at(-1) === 'function' ? (args.pop() as () => void) : undefined;
      const [chunk, encoding] = args as [string | Uint8Array | undefined | null, BufferEncoding | undefined];
      if (chunk !== undefined && chunk !== null) res.write(chunk, encoding as BufferEncoding);
      return (end as (...args: unknown[]) => NodeResponse).call(this, script, callback);
    };
  }
}

function isHtml(type: unknown): boolean {
  return typeof type === 'string' && /^\s*text\/html\b/i.test(type);
}

function headerValue(headers: HeadersArgument, name: string): string | undefined {
  if (headers === undefined) return undefined;
  if (Array.isArray(headers)) {
    // Flat [name, value, …] or pairs [[name, value], …].
    if (Array.isArray(headers[0])) {
      for (const pair of headers as unknown as [string, string][]) if (pair[0].toLowerCase() === name) return String(pair[1]);
      return undefined;
    }
    for (let i = 0; i + 1 < headers.length; i += 2) if (String(headers[i]).toLowerCase() === name) return String(headers[i + 1]);
    return undefined;
  }
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name && value !== undefined) return String(value);
  return undefined;
}

/** A copy without Content-Length (the handler's arrays may be frozen and shared between responses). */
function withoutLength(headers: NonNullable<HeadersArgument>): NonNullable<HeadersArgument> {
  if (!Array.isArray(headers)) return Object.fromEntries(Object.entries(headers).filter(([key]) => key.toLowerCase() !== 'content-length'));
  if (Array.isArray(headers[0])) return (headers as unknown as [string, string][]).filter((pair) => pair[0].toLowerCase() !== 'content-length') as unknown as OutgoingHttpHeader[];
  const out: OutgoingHttpHeader[] = [];
  for (let i = 0; i + 1 < headers.length; i += 2) if (String(headers[i]).toLowerCase() !== 'content-length') out.push(headers[i]!, headers[i + 1]!);
  return out;
}
