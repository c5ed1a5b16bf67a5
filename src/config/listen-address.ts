/** One listen address as written in the config or a --bind flag: its own module, read by the serve config, the relay's and `kirin check`. */
import { isAbsolute, resolve } from 'node:path';
import { parseCidr } from '../net/ip.ts';
import type { ListenAddress } from './plan.ts';

/**
 * Parses a listen address: 'HOST:PORT', ':PORT' (all addresses), '[::1]:PORT',
 * 'unix:/path' or a bare port. Returns a message when it is not one.
 */
export function parseListenAddress(spec: string, baseDir: string): ListenAddress | string {
  const base = { host: '', port: 0, path: '', fd: -1, spec };
  if (spec.startsWith('unix:')) {
    const path = spec.slice(5);
    if (!path) return "expected 'unix:/path/to/socket'";
    return { ...base, kind: 'unix', path: isAbsolute(path) ? path : resolve(baseDir, path) };
  }
  if (spec.startsWith('fd:') || spec.startsWith('fd://')) {
    const fd = Number(spec.replace(/^fd:(\/\/)?/, ''));
    if (!Number.isInteger(fd) || fd < 3) return "expected 'fd:3' (an inherited descriptor, 3 or above)";
    return { ...base, kind: 'fd', fd };
  }
  let host = '';
  let portText = spec;
  const bracket = /^\[([^\]]+)\]:(\d+)$/.exec(spec);
  if (bracket) {
    host = bracket[1]!;
    portText = bracket[2]!;
  } else if (spec.includes(':')) {
    const colon = spec.lastIndexOf(':');
    host = spec.slice(0, colon);
    portText = spec.slice(colon + 1);
    if (host.includes(':')) return "an IPv6 address needs brackets: '[::1]:8000'";
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) return "expected 'HOST:PORT' (e.g. '127.0.0.1:8000', ':80', '[::1]:8000') or 'unix:/path'";
  if (host === 'localhost') host = '127.0.0.1';
  if (host === '0.0.0.0' || host === '*') host = host === '*' ? '' : host;
  if (host !== '' && parseCidr(host) === null) return `"${host}" is not an IP address; listen on an address, not a name (e.g. '127.0.0.1:8000' or ':8000' for all)`;
  return { ...base, kind: 'tcp', host, port: Number(portText) };
}
