/**
 * A host as the user writes it: `user@host`, `user@host:2222`, `user@[2001:db8::1]:22`,
 * or a name from ~/.ssh/config (then ssh decides the user, port and address).
 */
export interface HostSpec {
  /** As written; names the host in output. */
  label: string;
  user: string | null;
  /** A name or an address (IPv6 without brackets). */
  host: string;
  port: number | null;
}

const NAME = /^[A-Za-z0-9_.-]+$/;
const USER = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Parses a host spec; returns a message when it is not one. */
export function parseHostSpec(spec: string): HostSpec | string {
  const at = spec.lastIndexOf('@');
  const user = at === -1 ? null : spec.slice(0, at);
  const rest = at === -1 ? spec : spec.slice(at + 1);
  if (user !== null && !USER.test(user)) return `"${user}" is not a user name`;
  let host = rest;
  let port: number | null = null;
  const bracket = /^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/.exec(rest);
  if (bracket) {
    host = bracket[1]!;
    port = bracket[2] === undefined ? null : Number(bracket[2]);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon !== -1) {
      if (rest.indexOf(':') !== colon) return 'an IPv6 address needs brackets: user@[2001:db8::1]:22';
      host = rest.slice(0, colon);
      const portText = rest.slice(colon + 1);
      if (!/^\d{1,5}$/.test(portText)) return `expected a port number after ":"`;
      port = Number(portText);
    }
    if (!NAME.test(host)) return "expected 'user@host', 'user@host:port' or a name from ~/.ssh/config";
  }
  if (port !== null && (port < 1 || port > 65535)) return 'the port must be from 1 to 65535';
  return { label: spec, user, host, port };
}

/** ssh's destination argument: `user@host` (the port goes in -p). */
export function sshDestination(host: HostSpec): string {
  return host.user ? `${host.user}@${host.host}` : host.host;
}

/** rsync's remote path: `user@host:/path`, with brackets around an IPv6 address. */
export function rsyncRemote(host: HostSpec, path: string): string {
  const address = host.host.includes(':') ? `[${host.host}]` : host.host;
  return `${host.user ? `${host.user}@` : ''}${address}:${path}`;
}
