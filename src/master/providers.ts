/**
 * What the master's extensions tell each other about: certificates (from the
 * TLS manager) and upstream health (reported by workers' proxies). The admin
 * listener, metrics, alerts and `kirin status` read these; the parts that own
 * the facts fill them in.
 */
import type { DdnsStatus } from '../ddns/updater.ts';
import type { RelayStatus } from '../relay/stats.ts';

export interface CertificateStatus {
  /** The names the certificate covers. */
  names: string[];
  /** 'acme', 'local' or 'files'. */
  source: 'acme' | 'local' | 'files';
  issuer: string;
  notBefore: number;
  notAfter: number;
  /** When Kirin will renew it (ms since epoch), or null for files. */
  renewAt: number | null;
  /** 'valid', 'pending' (being issued), 'failed' (last attempt failed), 'expired'. */
  state: 'valid' | 'pending' | 'failed' | 'expired';
  lastError: string | null;
}

export interface UpstreamStatus {
  /** The route that proxies to it, e.g. sites["api.example.test"]["/"]. */
  route: string;
  url: string;
  healthy: boolean;
  /** Worker that last reported (health is checked in every worker). */
  reportedBy: number;
  since: number;
}

export class Providers {
  certificates: (() => CertificateStatus[]) | null = null;
  ddns: (() => DdnsStatus | null) | null = null;
  /** The relay role's counts and tunnel (src/relay/master-hook.ts); null or returning null when not a relay. */
  relay: (() => RelayStatus | null) | null = null;
  readonly upstreams = new Map<string, UpstreamStatus>();
}
