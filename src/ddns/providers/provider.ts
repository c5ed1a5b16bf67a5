/**
 * The one small interface every DDNS provider module implements: given the
 * names and the addresses to publish, do the provider's real protocol and say,
 * per name, what the provider answered and what to do next.
 */
import type { ProviderPlan } from '../plan.ts';

export interface UpdateRequest {
  names: readonly string[];
  /** The address to publish, or null to leave that record alone. */
  ipv4: string | null;
  ipv6: string | null;
}

export type UpdateStatus =
  /** The records now hold the addresses (changed, or already right). */
  | 'updated'
  /** A passing failure (timeout, 5xx, 429, 911): try again later. */
  | 'retry'
  /** Retrying cannot help (bad credentials, unknown name, blocked): stop until the config changes, and alert. */
  | 'stop';

export interface NameResult {
  name: string;
  status: UpdateStatus;
  /** The provider's own answer word: good, nochg, badauth, 911, OK, KO, NOERROR, BADKEY, http-429, timeout … (metrics label). */
  code: string;
  /** What happened, for a person (never a credential). */
  message: string;
  /** The provider asked to wait at least this long before the next attempt (429 retry-after, dyndns2 911). */
  retryAfterMs?: number;
}

export interface DdnsProvider {
  readonly kind: ProviderPlan['kind'];
  /** Where updates go, for messages: 'ns1.example.com:53 zone example.com', 'dynupdate.no-ip.com'. */
  readonly target: string;
  update(request: UpdateRequest, signal: AbortSignal): Promise<NameResult[]>;
  close?(): void;
}

/** The same result for every name of one request (a request that failed as a whole). */
export function forAll(names: readonly string[], result: Omit<NameResult, 'name'>): NameResult[] {
  return names.map((name) => ({ name, ...result }));
}
