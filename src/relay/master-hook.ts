/**
 * The relay's part of the master: adds up what the relay workers count
 * (`relay-stats`), reads the WireGuard handshake with home every few seconds,
 * and publishes both as `providers.relay` for /metrics, /api/status and the
 * dashboard. Whether home is up comes from the workers' `upstream-health`
 * reports (the same path as proxy upstreams, so alerts need nothing new here).
 * Nothing here runs when the plan has no relay.
 */
import type { Master } from '../master/master.ts';
import { IpMatcher } from '../net/ip.ts';
import { runCommand, type CommandRunner } from '../ops/command-runner.ts';
import { RELAY_ROUTE, relayUpstreamUrl } from './plan.ts';
import { asRelayStats, emptyDelta, REFUSAL_REASONS, type RelayStatus } from './stats.ts';
import { latestHandshake, readWireGuard, routeTo } from './wireguard.ts';

const WIREGUARD_EVERY_MS = 10_000;

export function attachRelay(master: Master, run: CommandRunner = runCommand): void {
  const totals = emptyDelta();
  const openByWorker = new Map<number, number>();
  let wireguard: { dev: string | null; lastHandshake: number | null } = { dev: null, lastHandshake: null };
  let timer: NodeJS.Timeout | null = null;
  let warned = false;

  master.on('worker-event:relay-stats', (worker, payload) => {
    const delta = asRelayStats(payload);
    if (!delta) return;
    totals.accepted += delta.accepted;
    totals.relayed += delta.relayed;
    totals.bytesIn += delta.bytesIn;
    totals.bytesOut += delta.bytesOut;
    for (const reason of REFUSAL_REASONS) totals.refused[reason] += delta.refused[reason];
    openByWorker.set(worker.pid, delta.open);
  });
  master.on('worker-exit', (worker) => {
    openByWorker.delete(worker.pid);
  });

  const readTunnel = async () => {
    const relay = master.plan.relay;
    if (!relay) return;
    const route = await routeTo(relay.to, run);
    const dev = route && route.gateway === null ? route.dev : null;
    const peers = dev ? await readWireGuard(dev, run) : null;
    if (peers && 'error' in peers) {
      if (!warned) master.logger.info({ dev, error: peers.error }, `relay: cannot read WireGuard state of ${dev} (${peers.error}); the home end's health comes from connections alone`);
      warned = true;
      wireguard = { dev: null, lastHandshake: null };
      return;
    }
    const owns = (cidr: string) => IpMatcher.compile([cidr]).matcher.matches(relay.to);
    wireguard = { dev, lastHandshake: peers ? latestHandshake(peers, owns) : null };
  };

  master.providers.relay = () => {
    const relay = master.plan.relay;
    if (!relay) return null;
    const url = relayUpstreamUrl(relay);
    const health = master.providers.upstreams.get(`${RELAY_ROUTE}\u0000${url}`);
    let open = 0;
    for (const n of openByWorker.values()) open += n;
    return {
      home: url,
      homeUp: health?.healthy ?? true,
      homeSince: health?.since ?? 0,
      lastHandshakeAt: wireguard.lastHandshake,
      wireguardInterface: wireguard.dev,
      ports: master.plan.listen.http.map((a) => a.port),
      names: relay.names,
      open,
      accepted: totals.accepted,
      relayed: totals.relayed,
      refused: { ...totals.refused },
      bytesIn: totals.bytesIn,
      bytesOut: totals.bytesOut,
    } satisfies RelayStatus;
  };

  master.once('starting', () => {
    if (!master.plan.relay) return;
    void readTunnel();
    timer = setInterval(() => void readTunnel(), WIREGUARD_EVERY_MS);
    timer.unref();
  });
  master.once('finishing', () => {
    if (timer) clearInterval(timer);
  });
}
