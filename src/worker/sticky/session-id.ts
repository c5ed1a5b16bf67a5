/**
 * Socket.IO (engine.io) session ids that name the worker holding the session,
 * so any worker can tell where a request with `sid=` belongs without asking
 * anyone: `<owner pid in base 36>.<20 random characters>`. The random part is
 * what engine.io's own generator makes (15 random bytes, base64url); the dot
 * is outside that alphabet and needs no escaping in a query.
 */
import { randomBytes } from 'node:crypto';

const OWN_PREFIX = `${process.pid.toString(36)}.`;
/** A pid in base 36 and the dot: anything else in front of a dot (`sid=a&b=1.5`) is not one of these ids. */
const PID_PREFIX = /^[0-9a-z]{1,8}\.$/;

/** A new session id owned by this process. */
export function newSessionId(): string {
  return OWN_PREFIX + randomBytes(15).toString('base64url');
}

/**
 * The pid of the process holding the session a request target names
 * (`/socket.io/?EIO=4&transport=polling&sid=…`), or 0 when it names none, or
 * one of this process.
 */
export function foreignOwner(target: string): number {
  const at = target.indexOf('sid=');
  if (at === -1) return 0;
  const before = target.charCodeAt(at - 1);
  // '?' or '&': a parameter named exactly sid.
  if (before !== 63 && before !== 38) return 0;
  const start = at + 4;
  const dot = target.indexOf('.', start);
  if (dot === -1 || dot - start > 8) return 0;
  const prefix = target.slice(start, dot + 1);
  if (prefix === OWN_PREFIX || !PID_PREFIX.test(prefix)) return 0;
  const pid = Number.parseInt(prefix, 36);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : 0;
}
