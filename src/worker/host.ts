/**
 * Host header parsing and site selection.
 *
 * A Host is a DNS name, an IPv4 address or a bracketed IPv6 address, with an
 * optional numeric port. Anything else (`good.test:x@evil.test`, `..`, spaces,
 * empty labels) is malformed and gets 400; a well-formed host that no site
 * claims gets 421 — never a default site.
 */

/** Returns the lower-case host name without port, or null when malformed. */
export function parseHost(authority: string): string | null {
  const length = authority.length;
  if (length === 0 || length > 261) return null;
  let end = length;
  let hostname: string;
  if (authority.charCodeAt(0) === 91 /* [ */) {
    const close = authority.indexOf(']');
    if (close === -1) return null;
    hostname = authority.slice(0, close + 1).toLowerCase();
    if (!/^\[[0-9a-f:.]+\]$/.test(hostname)) return null;
    end = close + 1;
    if (end < length && !validPort(authority, end)) return null;
    return hostname;
  }
  const colon = authority.lastIndexOf(':');
  if (colon !== -1) {
    if (!validPort(authority, colon)) return null;
    end = colon;
  }
  hostname = end === length ? authority : authority.slice(0, end);
  if (!validHostname(hostname)) return null;
  // A trailing dot names the same host: 'example.com.' is 'example.com'.
  if (hostname.charCodeAt(hostname.length - 1) === 46) hostname = hostname.slice(0, -1);
  return hasUpper(hostname) ? hostname.toLowerCase() : hostname;
}

function validPort(authority: string, colon: number): boolean {
  if (authority.charCodeAt(colon) !== 58) return false;
  const digits = authority.length - colon - 1;
  if (digits === 0 || digits > 5) return false;
  let port = 0;
  for (let i = colon + 1; i < authority.length; i++) {
    const c = authority.charCodeAt(i);
    if (c < 48 || c > 57) return false;
    port = port * 10 + (c - 48);
  }
  return port <= 65535;
}

/** Letters, digits, '-', '_' and '.'; labels non-empty, at most 63 characters; not starting with '-' or '.'. */
function validHostname(name: string): boolean {
  if (name.length === 0 || name.length > 254) return false;
  let labelLength = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 46 /* . */) {
      if (labelLength === 0) return false;
      labelLength = 0;
      continue;
    }
    const ok = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || ((c === 45 || c === 95) && labelLength > 0);
    if (!ok || ++labelLength > 63) return false;
  }
  return true;
}

function hasUpper(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 65 && c <= 90) return true;
  }
  return false;
}

/**
 * Maps host names to sites: exact names first, then `*.parent` (one label), then `*`.
 */
export class SiteMap<T> {
  readonly #exact = new Map<string, T>();
  readonly #wildcard = new Map<string, T>();
  #catchAll: T | null = null;

  add(host: string, site: T): void {
    if (host === '*') this.#catchAll = site;
    else if (host.startsWith('*.')) this.#wildcard.set(host.slice(2), site);
    else this.#exact.set(host, site);
  }

  /** The single site when every host goes to it (`kirin serve app.ts`): lets the hot path skip the lookup. */
  get only(): T | null {
    return this.#exact.size === 0 && this.#wildcard.size === 0 ? this.#catchAll : null;
  }

  match(host: string): T | null {
    const exact = this.#exact.get(host);
    if (exact !== undefined) return exact;
    if (this.#wildcard.size > 0) {
      const dot = host.indexOf('.');
      if (dot !== -1) {
        const site = this.#wildcard.get(host.slice(dot + 1));
        if (site !== undefined) return site;
      }
    }
    return this.#catchAll;
  }
}
