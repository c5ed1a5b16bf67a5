/**
 * The validated `ddns` section (part of the ServePlan): durations in ms, names
 * lower-case without the trailing dot, credentials as references to variables
 * (their values are read when used, never kept in the plan).
 */
import type { DdnsProviderName, TsigAlgorithm } from './config-types.ts';

/** A credential: the variable that holds it, and where the config names it (for messages). */
export interface SecretRef {
  variable: string;
  at: string;
}

export interface DdnsPlan {
  names: string[];
  ipv4: boolean;
  ipv6: boolean;
  intervalMs: number;
  detect: { ipv4: string[]; ipv6: string[] };
  provider: ProviderPlan;
}

export type ProviderPlan = Rfc2136Plan | CloudflarePlan | Dyndns2Plan | DuckdnsPlan;

export interface Rfc2136Plan {
  kind: 'rfc2136';
  host: string;
  port: number;
  zone: string;
  key: { name: string; algorithm: TsigAlgorithm; secret: SecretRef };
  ttl: number;
}

export interface CloudflarePlan {
  kind: 'cloudflare';
  /** The API base, e.g. https://api.cloudflare.com/client/v4 (no trailing slash). */
  server: string;
  zone: string | null;
  token: SecretRef;
  /** 1 = automatic (Cloudflare's word). Used for records Kirin creates. */
  ttl: number;
}

export interface Dyndns2Plan {
  kind: 'dyndns2';
  server: string;
  username: string | SecretRef;
  password: SecretRef;
}

export interface DuckdnsPlan {
  kind: 'duckdns';
  server: string;
  token: SecretRef;
}

/** Compile-time check that every provider name has a plan. */
export type ProviderKind = ProviderPlan['kind'] & DdnsProviderName;
