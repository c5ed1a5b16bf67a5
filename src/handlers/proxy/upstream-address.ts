/**
 * Where an upstream lives, from the URL the user wrote: a TCP origin
 * (`http://127.0.0.1:9001`, `https://backend.internal`) or a unix socket
 * (`http://unix:/run/app.sock`, `unix:/run/app.sock`, nginx's trailing ':'
 * allowed). The config check (`upstreamProblem`) has already refused
 * anything else.
 */
export interface UpstreamAddress {
  /** As written, for logs and health reports. */
  url: string;
  /** What the connection pool is keyed on; for a unix socket a placeholder origin. */
  origin: string;
  /** The unix socket path, or null for TCP. */
  socketPath: string | null;
  /** The Host an upstream gets when the client's is not preserved. */
  host: string;
}

export function parseUpstreamAddress(url: string): UpstreamAddress {
  const unix = unixSocketPath(url);
  if (unix !== null) return { url, origin: 'http://localhost', socketPath: unix, host: 'localhost' };
  const parsed = new URL(url);
  return { url, origin: parsed.origin, socketPath: null, host: parsed.host };
}

/** The upstream URL of a service: its `{socket}`, or its `{port}` on loopback. */
export function serviceUpstreamUrl(service: { socket: string | null; port: number }): string | null {
  if (service.socket !== null) return `http://unix:${service.socket}`;
  if (service.port > 0) return `http://127.0.0.1:${service.port}`;
  return null;
}

function unixSocketPath(url: string): string | null {
  let rest: string;
  if (url.startsWith('http://unix:')) rest = url.slice('http://unix:'.length);
  else if (url.startsWith('unix:')) rest = url.slice('unix:'.length);
  else return null;
  return rest.endsWith(':') ? rest.slice(0, -1) : rest;
}
