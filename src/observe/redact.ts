/**
 * Keeping credentials out of what leaves a worker for people to read (error
 * reports, alerts, the dashboard). Django's SafeExceptionReporterFilter does the
 * same for its error mails: the header or parameter stays visible (it helps to
 * know a request carried a cookie), its value does not.
 */

export const REMOVED = '[removed]';

/** Names whose values are credentials: Authorization, Cookie, X-Api-Key, ?token=, ?password= … */
const SECRET_NAME = /auth|cookie|pass|secret|token|key|session|csrf|xsrf|signature|credential|otp/i;

const MAX_HEADERS = 60;
const MAX_VALUE = 512;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** Request headers as `name → value`, secrets replaced, long values cut. */
export function redactHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  let count = 0;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.startsWith(':')) continue;
    if (++count > MAX_HEADERS) break;
    const text = Array.isArray(value) ? value.join(', ') : value;
    out[name] = isSecretName(name) ? REMOVED : cut(text, MAX_VALUE);
  }
  return out;
}

/** A request target (path and query) with the values of secret-looking query parameters replaced. */
export function redactTarget(target: string): string {
  const q = target.indexOf('?');
  if (q === -1) return cut(target, 2048);
  const parts = target.slice(q + 1).split('&');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (isSecretName(safeDecode(part.slice(0, eq)))) parts[i] = `${part.slice(0, eq)}=${REMOVED}`;
  }
  return cut(`${target.slice(0, q)}?${parts.join('&')}`, 2048);
}

/** A URL without its user:password part (upstream and webhook addresses in labels and logs). */
export function redactUrl(url: string): string {
  // Textual, so the URL keeps the form the user wrote (no trailing slash added).
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1');
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

export function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length - max} more characters)` : text;
}
