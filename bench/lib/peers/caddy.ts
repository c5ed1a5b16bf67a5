/**
 * Caddy (Debian caddy) in the foreground from a Caddyfile in a temporary
 * folder: admin API off, automatic HTTPS off, plain file_server and
 * reverse_proxy as its docs show them. Pinned with taskset, so Go sees one CPU.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchTempDir } from '../temp.ts';
import { launch } from '../process.ts';
import { waitForPort } from '../ready.ts';
import { serverOf, type Server } from '../server.ts';
import { isStatic, type EdgeSite } from './edge-site.ts';

export async function startCaddy(sites: EdgeSite[], cpu: number | null): Promise<Server> {
  const dir = benchTempDir('kirin-bench-caddy-');
  const caddyfile = join(dir, 'Caddyfile');
  writeFileSync(caddyfile, caddyConf(sites));
  const proc = launch({
    name: 'caddy',
    command: 'caddy',
    args: ['run', '--config', caddyfile, '--adapter', 'caddyfile'],
    cpu,
    // Caddy keeps state under $HOME / $XDG_*: keep it in the temporary folder.
    env: { HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') },
  });
  for (const site of sites) await waitForPort('127.0.0.1', site.port, 15_000, proc);
  return serverOf(proc, `http://127.0.0.1:${sites[0]!.port}/`);
}

function caddyConf(sites: EdgeSite[]): string {
  const blocks = sites.map((site) =>
    isStatic(site)
      ? `:${site.port} {
	bind 127.0.0.1
	root * ${site.staticRoot}
	file_server
}`
      : `:${site.port} {
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:${site.upstreamPort}
}`,
  );
  return `# Written by bench/lib/peers/caddy.ts
{
	admin off
	auto_https off
	log {
		level WARN
	}
}

${blocks.join('\n\n')}
`;
}
