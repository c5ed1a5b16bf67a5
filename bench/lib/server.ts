/**
 * A server under test, whatever it is: where to send load, its root pid (for
 * memory), and how to stop it.
 */
import type { Launched } from './process.ts';

export interface Server {
  name: string;
  /** The URL wrk and the load generator hit, e.g. http://127.0.0.1:41234/ */
  url: string;
  pid: number;
  process: Launched;
  stop(): Promise<void>;
}

export function serverOf(process: Launched, url: string, cleanup?: () => void): Server {
  return {
    name: process.name,
    url,
    pid: process.pid,
    process,
    async stop() {
      await process.stop();
      cleanup?.();
    },
  };
}
