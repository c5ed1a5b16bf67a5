/**
 * nginx (Debian nginx-light) in the foreground with one worker, from a
 * minimal config in a temporary folder. Tuned the way a production nginx is
 * (sendfile, tcp_nopush, open_file_cache, upstream keep-alive), and with
 * keepalive_requests raised so wrk's connections are never recycled: the
 * comparison is against nginx at its best.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchTempDir } from '../temp.ts';
import { launch } from '../process.ts';
import { waitForPort } from '../ready.ts';
import { serverOf, type Server } from '../server.ts';
import { isStatic, type EdgeSite } from './edge-site.ts';

export async function startNginx(sites: EdgeSite[], cpu: number | null): Promise<Server> {
  const dir = benchTempDir('kirin-bench-nginx-');
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConf(dir, sites));
  const proc = launch({ name: 'nginx', command: 'nginx', args: ['-p', dir, '-c', conf, '-e', 'stderr'], cpu });
  for (const site of sites) await waitForPort('127.0.0.1', site.port, 10_000, proc);
  return serverOf(proc, `http://127.0.0.1:${sites[0]!.port}/`);
}

function nginxConf(dir: string, sites: EdgeSite[]): string {
  const servers = sites.map((site) =>
    isStatic(site)
      ? `  server {
    listen 127.0.0.1:${site.port};
    root ${site.staticRoot};
  }`
      : `  upstream upstream_${site.port} {
    server 127.0.0.1:${site.upstreamPort};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${site.port};
    location / {
      proxy_pass http://upstream_${site.port};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # What a production nginx sends (and Kirin and Caddy send too).
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }`,
  );
  return `# Written by bench/lib/peers/nginx.ts
daemon off;
worker_processes 1;
${process.getuid?.() === 0 ? 'user root;\n' : ''}pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  types { text/html html; text/css css; application/javascript js; text/plain txt; }
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  open_file_cache max=1000 inactive=60s;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${servers.join('\n')}
}
`;
}
