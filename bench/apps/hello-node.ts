/**
 * "Hello, world!" as a Node listener: Kirin's Node-listener path, and the raw
 * node:http ceiling. The response is byte for byte what Kirin's fetch path
 * sends for `new Response('Hello, world!')`: 200, the same content-type, a
 * content-length (node:http adds Date and Connection for both).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

const BODY = 'Hello, world!';
const HEADERS = ['content-type', 'text/plain;charset=UTF-8', 'content-length', String(Buffer.byteLength(BODY))];

export default function hello(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, HEADERS);
  res.end(BODY);
}

/**
 * The same answer as Kirin's https listener sends it: with its default
 * Strict-Transport-Security field. The TLS ceilings (raw-https.ts,
 * raw-http2.ts) use it, so they and Kirin send the same bytes — over HTTP/2
 * that one field costs Node's header code ~8,000 instructions per response.
 */
export const HSTS_HEADERS = [...HEADERS, 'strict-transport-security', 'max-age=63072000'];

export function helloOverTls(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, HSTS_HEADERS);
  res.end(BODY);
}
