/**
 * Kirin's own error responses: short, plain text, no internals. A request Kirin
 * refuses as malformed also closes its connection, so a confused client or a
 * smuggling attempt cannot leave state behind on it.
 */
import { STATUS_CODES } from '../util/node-http.ts';
import type { Duplex } from 'node:stream';
import type { NodeResponse } from './context.ts';

export interface ErrorOptions {
  /** Close the connection after the response (HTTP/1.1). Default: for 400, 408, 413, 431. */
  close?: boolean;
  headers?: Record<string, string>;
}

const CLOSING = new Set([400, 408, 413, 431]);

export function sendError(res: NodeResponse, status: number, detail?: string, options: ErrorOptions = {}): void {
  if (res.headersSent) {
    // Too late for a status: the client must see the response is broken, not complete.
    res.destroy();
    return;
  }
  const reason = STATUS_CODES[status] ?? 'Error';
  const body = `${status} ${reason}${detail ? `: ${detail}` : ''}\n`;
  const close = options.close ?? CLOSING.has(status);
  const headers: Record<string, string | number> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
    ...options.headers,
  };
  if (close && 'shouldKeepAlive' in res) res.shouldKeepAlive = false;
  res.writeHead(status, headers);
  res.end(body);
}

/** The same, written raw to a socket that has no response object (parse errors, upgrades). */
export function writeRawError(socket: Duplex, status: number, detail?: string): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const reason = STATUS_CODES[status] ?? 'Error';
  const body = `${status} ${reason}${detail ? `: ${detail}` : ''}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  (socket as Duplex & { destroySoon?: () => void }).destroySoon?.();
}
