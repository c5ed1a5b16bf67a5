/**
 * The reload drill: HUP a master every second (or, when a reload takes longer,
 * as soon as the previous one finished) while the load runs, keep the load on
 * while the last old generation drains, and report what the clients saw. For
 * any master that logs Kirin's "reloaded:" / "reload failed" lines (Kirin,
 * bench/experiments' prototype).
 */
import { startLoad, type LoadOptions, type LoadReport } from './load.ts';
import type { Server } from './server.ts';

export interface DrillResult {
  report: LoadReport;
  /** Reloads that finished ("reloaded:" lines). */
  reloads: number;
  /** From HUP to "reloaded:", the slowest of them. */
  slowestReloadMs: number;
}

/** The longest a reload may take before the drill moves on (and reports it missing). */
const RELOAD_DEADLINE_MS = 30_000;

const reloadedLine = (line: string) => line.includes('"msg":"reloaded:');
const failedLine = (line: string) => line.includes('"msg":"reload failed');

export async function reloadDrill(server: Server, load: Omit<LoadOptions, 'url'>, reloads: number, intervalMs: number): Promise<DrillResult> {
  const run = startLoad({ ...load, url: server.url });
  try {
    await run.waitForRequests(500);
    const finished = () => server.process.count((l) => reloadedLine(l) || failedLine(l));
    let slowest = 0;
    for (let i = 0; i < reloads; i++) {
      const before = finished();
      const sentAt = Date.now();
      server.process.signal('SIGHUP');
      // Each HUP waits for the previous reload to finish, so there are `reloads` real
      // generation swaps (a master may fold HUPs that arrive during a reload into one).
      while (finished() === before && Date.now() - sentAt < RELOAD_DEADLINE_MS) await pause(20);
      slowest = Math.max(slowest, Date.now() - sentAt);
      await pause(Math.max(0, intervalMs - (Date.now() - sentAt)));
    }
    // The last old generation drains with the load still on.
    await pause(1000);
    return { report: await run.stop(), reloads: server.process.count(reloadedLine), slowestReloadMs: slowest };
  } catch (error) {
    await run.stop();
    throw error;
  }
}

export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
