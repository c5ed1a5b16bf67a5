/**
 * Single-process Node servers from bench/apps (raw node:http, @hono/node-server,
 * the upstream behind every proxy), run by the project's Node 24.
 */
import { launch } from '../process.ts';
import { NODE, app } from '../paths.ts';
import { waitForHttp } from '../ready.ts';
import { serverOf, type Server } from '../server.ts';

export async function startNodeApp(options: { name: string; script: string; port: number; cpu: number | null; env?: Record<string, string> }): Promise<Server> {
  const proc = launch({
    name: options.name,
    command: NODE,
    args: [app(options.script)],
    cpu: options.cpu,
    env: { PORT: String(options.port), HOST: '127.0.0.1', NODE_ENV: 'production', ...options.env },
  });
  const url = `http://127.0.0.1:${options.port}/`;
  await waitForHttp(url, 15_000, proc);
  return serverOf(proc, url);
}

export const startRawNode = (port: number, cpu: number | null, name = 'raw node:http', env?: Record<string, string>) => startNodeApp({ name, script: 'raw-node.ts', port, cpu, env });

export const startHono = (port: number, cpu: number | null) => startNodeApp({ name: '@hono/node-server', script: 'hono-server.ts', port, cpu });
