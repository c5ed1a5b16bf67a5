/**
 * Who may use the admin listener.
 *
 * With a token: `Authorization: Bearer <token>` (Prometheus, curl), or the
 * session cookie a browser gets from the dashboard's login form. Comparisons
 * are constant-time. The cookie holds an HMAC of the token, not the token.
 *
 * Without a token (loopback only; the config refuses anything else): anyone on
 * this machine may read, but only with a Host header naming this machine, so a
 * web page cannot reach the listener through DNS rebinding (a name of the
 * attacker's that resolves to 127.0.0.1).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

export const SESSION_COOKIE = 'kirin_admin';

export function sameSecret(given: string, expected: string): boolean {
  // Hash first: timingSafeEqual needs equal lengths, and the hash hides the length too.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The cookie value a browser holds once logged in. */
export function sessionValue(token: string): string {
  return createHmac('sha256', token).update('kirin admin session v1').digest('base64url');
}

export function isAuthorized(req: IncomingMessage, token: string | null): boolean {
  if (token === null) return true;
  const header = req.headers.authorization;
  if (typeof header === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match !== null && sameSecret(match[1]!, token);
  }
  const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
  return cookie !== null && sameSecret(cookie, sessionValue(token));
}

export function sessionCookie(token: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${sessionValue(token)}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** For a listener without a token: a Host that names this machine (an IP, localhost), or none at all. */
export function isLocalHost(hostHeader: string | undefined): boolean {
  if (hostHeader === undefined || hostHeader === '') return true;
  const host = hostHeader.startsWith('[') ? hostHeader.slice(1, hostHeader.indexOf(']')) : hostHeader.replace(/:\d*$/, '');
  const name = host.toLowerCase();
  return isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost');
}
