/**
 * A route's `websocket` key: the limits Kirin holds every WebSocket of an app
 * route to, whatever library the app uses (worker/websockets.ts enforces them).
 *
 *   '/': { app: './server.ts', websocket: { maxMessage: '64kb', idleTimeout: '2m', maxConnections: 5000, origins: ['https://example.com'] } }
 */
import { checkKeys, ConfigPath, isPlainObject, Issues, readDuration, readInteger, readSize, readStringArray } from './issues.ts';
import type { WebSocketPlan } from './plan.ts';

const WEBSOCKET_KEYS = ['maxMessage', 'idleTimeout', 'maxConnections', 'origins'] as const;

/**
 * Safe on the public internet: 1 MiB messages (ws allows 100 MiB), a dead peer
 * found within a minute, 10 000 sockets per worker (≈ 10 KB each in Kirin, far
 * more in an app), and only same-origin pages (cross-site WebSocket hijacking).
 */
export const DEFAULT_WEBSOCKET: WebSocketPlan = Object.freeze({
  maxMessageBytes: 1024 * 1024,
  idleTimeoutMs: 60_000,
  maxConnections: 10_000,
  origins: null,
});

/** Kirin's ping goes out at half the idle timeout; under a second the ping would race the client's answer. */
const MIN_IDLE_MS = 1000;

export function normalizeWebSocket(raw: unknown, at: ConfigPath, issues: Issues): WebSocketPlan {
  if (raw === undefined) return DEFAULT_WEBSOCKET;
  if (!isPlainObject(raw)) {
    issues.expected(at, "an object like { maxMessage: '64kb', idleTimeout: '60s', maxConnections: 10000, origins: ['https://example.com'] }", raw);
    return DEFAULT_WEBSOCKET;
  }
  checkKeys(raw, WEBSOCKET_KEYS, at, issues);
  const plan = { ...DEFAULT_WEBSOCKET };
  if (raw.maxMessage !== undefined) {
    const bytes = readSize(raw.maxMessage, at.key('maxMessage'), issues);
    if (bytes === 0) issues.add(at.key('maxMessage'), 'a WebSocket message limit must be at least 1 byte');
    else if (bytes !== undefined) plan.maxMessageBytes = bytes;
  }
  if (raw.idleTimeout !== undefined) {
    const ms = readDuration(raw.idleTimeout, at.key('idleTimeout'), issues);
    if (ms !== undefined && ms !== 0 && ms < MIN_IDLE_MS) issues.add(at.key('idleTimeout'), `expected 0 (never) or at least 1s; got ${JSON.stringify(raw.idleTimeout)}`);
    else if (ms !== undefined) plan.idleTimeoutMs = ms;
  }
  if (raw.maxConnections !== undefined) plan.maxConnections = readInteger(raw.maxConnections, at.key('maxConnections'), issues, 1) ?? plan.maxConnections;
  if (raw.origins !== undefined) plan.origins = readOrigins(raw.origins, at.key('origins'), issues);
  return Object.freeze(plan);
}

/** '*' or exact origins ('https://example.com', 'http://localhost:3000'), compared as the browser sends them. */
function readOrigins(raw: unknown, at: ConfigPath, issues: Issues): WebSocketPlan['origins'] {
  if (raw === '*') return '*';
  const list = readStringArray(raw, at, issues, "'*' or a list of origins like ['https://example.com']") ?? [];
  const origins: string[] = [];
  list.forEach((entry, i) => {
    const origin = originOf(entry);
    if (origin === null) issues.add(at.key(i), `"${entry}" is not an origin; expected scheme://host[:port] like 'https://example.com', without a path`);
    else origins.push(origin);
  });
  return origins;
}

function originOf(entry: string): string | null {
  try {
    const url = new URL(entry);
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname.length > 1 || url.search || url.hash || url.username) return null;
    return url.origin;
  } catch {
    return null;
  }
}
