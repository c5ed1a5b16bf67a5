/**
 * The relay role's validated plan (src/relay/normalize.ts makes it). The
 * public addresses themselves are the plan's `listen.http`: the master opens
 * them like any listener, and relay workers accept on them.
 */

export interface RelayPlan {
  /** The home end's tunnel address (canonical IP text). */
  to: string;
  /** Lower-case names or `*.parent` patterns relayed; null relays every name. */
  names: string[] | null;
  maxConnectionsPerClient: number;
  idleTimeoutMs: number;
  connectTimeoutMs: number;
}

/** How the home end is named in upstream health, metrics, the dashboard and alerts. */
export const RELAY_ROUTE = 'relay';

export function relayUpstreamUrl(plan: RelayPlan): string {
  return `tcp://${plan.to.includes(':') ? `[${plan.to}]` : plan.to}`;
}
