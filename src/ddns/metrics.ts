/** The DDNS families on /metrics, written from the client's status (announced even before the first update). */
import type { PrometheusText } from '../observe/prometheus-text.ts';
import type { DdnsStatus } from './updater.ts';

export function writeDdnsMetrics(out: PrometheusText, ddns: DdnsStatus | null): void {
  out.family(
    'kirin_ddns_last_success_timestamp_seconds',
    'gauge',
    'When the DDNS provider last accepted an update for each name (seconds since the epoch; kept across restarts).',
    (ddns?.names ?? []).filter((n) => n.lastSuccessAt !== null).map((n) => [{ name: n.name, provider: ddns!.provider }, n.lastSuccessAt! / 1000] as const),
  );
  out.family(
    'kirin_ddns_failures_total',
    'counter',
    "DDNS updates that failed since the start, by provider and the provider's answer (badauth, 911, http-429, BADKEY, timeout …).",
    Object.entries(ddns?.failures ?? {}).map(([code, n]) => [{ provider: ddns!.provider, code }, n] as const),
  );
  out.family('kirin_ddns_stopped', 'gauge', 'Whether DDNS updates are stopped by a refusal that retrying cannot fix (1), until the config is fixed and reloaded.', ddns ? [[{ provider: ddns.provider }, ddns.stopped ? 1 : 0]] : []);
  out.family(
    'kirin_ddns_behind_cgnat',
    'gauge',
    "1 when this machine is behind carrier-grade NAT (an address in 100.64.0.0/10 on the default route's interface): port forwarding cannot reach it.",
    ddns?.detection?.reachability ? [[{}, ddns.detection.reachability.kind === 'cgnat' ? 1 : 0]] : [],
  );
}
