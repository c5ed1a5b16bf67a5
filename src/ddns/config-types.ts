/**
 * The `ddns` section of kirin.config.ts, as a person writes it (docs/ddns.md).
 * Credentials are never written here: `'$NAME'` names a variable of the
 * environment or of the config's envFiles.
 */
import type { Duration } from '../config/units.ts';

/** `'$NAME'`: the value of the variable NAME, from the environment or the env files. */
export type EnvReference = `$${string}`;

export type DdnsProviderName = 'rfc2136' | 'cloudflare' | 'dyndns2' | 'duckdns';

export type TsigAlgorithm = 'hmac-sha256' | 'hmac-sha384' | 'hmac-sha512' | 'hmac-sha224' | 'hmac-sha1';

export interface DdnsConfig {
  /** Who keeps the zone: an RFC 2136 server (BIND, Knot, PowerDNS), Cloudflare, a dyndns2 service (No-IP, Dyn …) or DuckDNS. */
  provider: DdnsProviderName;
  /** The names to keep pointed at this machine. Default: the sites' host names. */
  names?: string[];
  /** Keep A records up to date. Default true. */
  ipv4?: boolean;
  /** Keep AAAA records up to date (the interface's stable address, never a temporary one). Default true. */
  ipv6?: boolean;
  /** How often the public address is checked. Default '5m'. */
  interval?: Duration;
  /** HTTPS echo services that tell the public address (two must agree). Defaults: well-known public ones. */
  detect?: { ipv4?: string[]; ipv6?: string[] };
  /** rfc2136: 'HOST:PORT' of the primary server; cloudflare, duckdns: the API's base URL; dyndns2: the service's URL (required). */
  server?: string;
  /** rfc2136: the zone to update (required). cloudflare: the zone name, when it cannot be told from the names. */
  zone?: string;
  /** rfc2136: the TSIG key. */
  key?: { name: string; algorithm?: TsigAlgorithm; secret: EnvReference };
  /** rfc2136 and new Cloudflare records: the records' TTL in seconds. Default 300 (Cloudflare: automatic). */
  ttl?: number;
  /** cloudflare: an API token with Zone.DNS edit on the zone; duckdns: the account token. */
  token?: EnvReference;
  /** dyndns2: the account's user name (or a `'$NAME'`). */
  username?: string;
  /** dyndns2: the password or update key. */
  password?: EnvReference;
}
