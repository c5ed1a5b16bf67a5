/**
 * The reload drill: HUP a master every second while the load runs, wait until
 * every reload has finished, keep the load on while the last old generation
 * drains, and report what the clients saw. For any master that logs Kirin's
 * "reloaded:" / "reload failed" lines (Kirin, bench/experiments' prototype).
 */
import { startLoad, type LoadOptions, type LoadReport } from './load.ts';
import type { Server } from './server.ts';

export interface DrillResult {
  report: LoadReport;
  /** Reloads that finished ("reloaded:" lines). */
  reloads: number;
}

const reloadedLine = (line: string) => line.includes('"msg":"reloaded:');
const failedLine = (line: string) => line.includes('"msg":"reload failed');

export async function reloadDrill(server: Server, load: Omit<LoadOptions, 'url'>, reloads: number, intervalMs: number): Promise<DrillResult> {
  const run = startLoad({ ...load, url: server.url });
  try {
    await run.waitForRequests(500);
    for (let i = 0; i < reloads; i++) {
      server.process.signal('SIGHUP');
      await pause(intervalMs);
    }
    const deadline = Date.now() + 20_000;
    while (server.process.count((l) => reloadedLine(l) || failedLine(l)) < reloads && Date.now() < deadline) await pause(100);
    // The last old generation drains with the load still on.
    await pause(1000);
  } catch (error) {
    await run.stop();
    throw error;
  }
  return { report: await run.stop(), reloads: server.process.count(reloadedLine) };
}

export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
