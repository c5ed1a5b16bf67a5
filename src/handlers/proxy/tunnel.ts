/**
 * A WebSocket tunnel once both sides have switched protocols: bytes piped
 * both ways until either side closes or fails, then both are closed. Used
 * by the proxy handler and by sticky routing's hop to a session's worker
 * (worker/sticky/forward.ts); `open` holds the tunnel meanwhile, so drain
 * can close what is left.
 */
import type { Duplex } from 'node:stream';

type Tunable = Duplex & { setTimeout?: (ms: number) => void; setNoDelay?: (on: boolean) => void };

export function pipeTunnel(client: Duplex, upstream: Duplex, open: Set<Duplex>): void {
  open.add(client);
  // An idle WebSocket is not an idle request: its own pings keep it alive, not the request timeouts.
  (client as Tunable).setTimeout?.(0);
  (client as Tunable).setNoDelay?.(true);
  (upstream as Tunable).setNoDelay?.(true);
  const close = () => {
    open.delete(client);
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
  client.on('close', close);
  upstream.on('close', close);
  client.pipe(upstream);
  upstream.pipe(client);
}
