/**
 * The relay's families on /metrics (only on a relay). The home end's state is
 * `kirin_upstream_up{route="relay"}`, like any upstream.
 */
import type { PrometheusText } from '../observe/prometheus-text.ts';
import { REFUSAL_REASONS, type RelayStatus } from './stats.ts';

export function writeRelayMetrics(out: PrometheusText, relay: RelayStatus): void {
  out.family('kirin_relay_connections_open', 'gauge', 'Connections the relay holds open now, all workers.', [[{}, relay.open]]);
  out.family('kirin_relay_connections_accepted_total', 'counter', 'Connections accepted on the relayed public ports.', [[{}, relay.accepted]]);
  out.family('kirin_relay_connections_relayed_total', 'counter', 'Connections forwarded to the home end.', [[{}, relay.relayed]]);
  out.family(
    'kirin_relay_connections_refused_total',
    'counter',
    'Connections closed without being forwarded, by reason: client-limit, name (not in relay.names), malformed, timeout (nothing sent), home-down.',
    REFUSAL_REASONS.map((reason) => [{ reason }, relay.refused[reason]] as const),
  );
  out.family('kirin_relay_bytes_total', 'counter', 'Bytes relayed: direction "in" from clients to home, "out" from home to clients.', [
    [{ direction: 'in' }, relay.bytesIn],
    [{ direction: 'out' }, relay.bytesOut],
  ]);
  const handshake = relay.lastHandshakeAt;
  out.family(
    'kirin_relay_wireguard_last_handshake_timestamp_seconds',
    'gauge',
    'When the WireGuard tunnel to home last completed a handshake (0: never); absent when Kirin cannot read WireGuard (it needs root or CAP_NET_ADMIN).',
    handshake === null ? [] : [[{ interface: relay.wireguardInterface ?? '' }, handshake / 1000]],
  );
}
