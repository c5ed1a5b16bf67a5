/**
 * The config a user writes for the relay role and for listeners that expect
 * the PROXY protocol (docs/relay.md). Re-exported by src/config/types.ts.
 */
import type { Duration } from '../config/units.ts';

/**
 * On the VPS: forward every TCP connection on `listen` to the same port at
 * `to` (the home end of the WireGuard tunnel), TLS passed through untouched,
 * the client's address carried in a PROXY protocol v2 header.
 */
export interface RelayConfig {
  /** The home end's tunnel address, e.g. `'10.77.0.2'`. */
  to: string;
  /** Public addresses; each is forwarded to the same port at `to`. Default `[':80', ':443']`. */
  listen?: string[];
  /** Only these names (TLS SNI, or the Host of plain HTTP) are relayed: `'example.com'`, `'*.example.com'`. Default: every name. */
  names?: string[];
  /** Connections one client address may hold open at once; more are closed. Default 128. */
  maxConnectionsPerClient?: number;
  /** A connection with no bytes either way for this long is closed. Default 5 min. */
  idleTimeout?: Duration;
  /** Time to open a connection to the home end. Default 5 s. */
  connectTimeout?: Duration;
}

/** A listen entry in its long form: `{ address: '10.77.0.2:443', proxyProtocol: true }`. */
export interface ListenEntry {
  address: string;
  /** Every connection starts with a PROXY protocol v2 header; accepted only from `trustedProxies`. */
  proxyProtocol?: boolean;
}
