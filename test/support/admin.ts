/**
 * Test support for the admin listener: start a Kirin whose admin listener is on
 * a free loopback port, and find its URL in the log.
 */
import { request } from './http.ts';
import { parsePrometheus, valueOf, type ParsedFamily } from './prometheus.ts';
import { startKirin, type KirinProcess } from './kirin.ts';

export interface AdminKirin {
  kirin: KirinProcess;
  /** e.g. http://127.0.0.1:41234 */
  admin: string;
}

/** Starts `kirin serve` in `dir` (which holds kirin.config.ts with `admin: { listen: '127.0.0.1:0' }`). */
export async function startWithAdmin(dir: string, workers = 2, env: NodeJS.ProcessEnv = {}): Promise<AdminKirin> {
  const kirin = await startKirin({ cwd: dir, args: ['serve', '--workers', String(workers), '--bind', '127.0.0.1:0', '--state-dir', `${dir}/state`], env });
  const line = await kirin.waitForLine((l) => typeof l.admin === 'string' && String(l.msg).startsWith('admin listener on'), 10_000, 'the admin listener line');
  return { kirin, admin: line.admin as string };
}

export async function scrape(admin: string, headers: Record<string, string> = {}): Promise<Map<string, ParsedFamily>> {
  const res = await request(`${admin}/metrics`, { headers });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${res.body}`);
  return parsePrometheus(res.body);
}

/** The value of one sample on /metrics now (undefined when absent). */
export async function metric(admin: string, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  return valueOf(await scrape(admin), name, labels);
}

export async function apiStatus<T = Record<string, unknown>>(admin: string, headers: Record<string, string> = {}): Promise<T> {
  const res = await request(`${admin}/api/status`, { headers });
  if (res.status !== 200) throw new Error(`/api/status answered ${res.status}`);
  return JSON.parse(res.body) as T;
}
