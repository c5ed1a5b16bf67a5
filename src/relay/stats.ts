/**
 * What a relay worker counts, and how the master adds the workers up
 * (src/relay/master-hook.ts). Workers send the counts since their last report
 * once a second while anything changes (`relay-stats` events), so the totals
 * outlive the workers that made them.
 */

/** Why a connection was closed without being relayed. */
export const REFUSAL_REASONS = ['client-limit', 'name', 'malformed', 'timeout', 'home-down'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export interface RelayStatsDelta {
  /** Connections accepted on the public ports. */
  accepted: number;
  /** Connections forwarded to the home end. */
  relayed: number;
  refused: Record<RefusalReason, number>;
  /** Bytes from clients to home, and from home to clients. */
  bytesIn: number;
  bytesOut: number;
  /** Connections open now in this worker (a gauge, not a delta). */
  open: number;
}

export function emptyDelta(): RelayStatsDelta {
  return { accepted: 0, relayed: 0, refused: { 'client-limit': 0, name: 0, malformed: 0, timeout: 0, 'home-down': 0 }, bytesIn: 0, bytesOut: 0, open: 0 };
}

/** A `relay-stats` payload, checked: it crossed a process boundary. */
export function asRelayStats(value: unknown): RelayStatsDelta | null {
  if (typeof value !== 'object' || value === null) return null;
  const d = value as Partial<RelayStatsDelta>;
  const numbers = [d.accepted, d.relayed, d.bytesIn, d.bytesOut, d.open];
  if (!numbers.every((n) => typeof n === 'number' && Number.isFinite(n) && n >= 0)) return null;
  if (typeof d.refused !== 'object' || d.refused === null) return null;
  const refused = emptyDelta().refused;
  for (const reason of REFUSAL_REASONS) {
    const n = (d.refused as Record<string, unknown>)[reason];
    if (typeof n === 'number' && Number.isFinite(n) && n >= 0) refused[reason] = n;
  }
  return { accepted: d.accepted!, relayed: d.relayed!, refused, bytesIn: d.bytesIn!, bytesOut: d.bytesOut!, open: d.open! };
}

/** The relay as the admin listener shows it (/metrics, /api/status, the dashboard). */
export interface RelayStatus {
  /** tcp://10.77.0.2 */
  home: string;
  /** From the workers' probes and connections; null before any worker reported. */
  homeUp: boolean;
  homeSince: number;
  /** The last WireGuard handshake with home (ms since the epoch, 0: never), or null when unknown (no `wg`, no permission, no tunnel found). */
  lastHandshakeAt: number | null;
  /** The WireGuard interface the home address is routed through, when known. */
  wireguardInterface: string | null;
  ports: number[];
  names: string[] | null;
  open: number;
  accepted: number;
  relayed: number;
  refused: Record<RefusalReason, number>;
  bytesIn: number;
  bytesOut: number;
}
