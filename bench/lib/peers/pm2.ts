/**
 * PM2 in cluster mode (the process manager Node users reach for), run the
 * way its docs say — `pm2 start app -i N` — with a private PM2_HOME in a
 * temporary folder so nothing touches the user's ~/.pm2, and the project's
 * Node 24 first on PATH so the daemon and instances run the same Node as Kirin.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { benchTempDir } from '../temp.ts';
import { NODE, app, npmBin } from '../paths.ts';
import { pinned } from '../pin.ts';
import { waitForHttp } from '../ready.ts';

export interface Pm2Cluster {
  url: string;
  /** The PM2 daemon; the instances are its children. */
  daemonPid: number;
  /** `pm2 reload`: PM2's zero-downtime reload of cluster instances; resolves when the command returns. */
  reload(): Promise<void>;
  kill(): Promise<void>;
}

export async function startPm2Cluster(options: { script: string; instances: number; port: number; cpu: number | null }): Promise<Pm2Cluster> {
  const home = benchTempDir('kirin-bench-pm2-');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PM2_HOME: home,
    PORT: String(options.port),
    HOST: '127.0.0.1',
    NODE_ENV: 'production',
    PATH: `${dirname(NODE)}:${process.env.PATH ?? ''}`,
  };
  const pm2 = (args: string[], cpu: number | null) => run(pinned(cpu, NODE, [npmBin('pm2'), ...args]), env);
  // The client spawns the daemon, which inherits the client's CPU affinity.
  await pm2(['start', app(options.script), '-i', String(options.instances), '--name', 'bench'], options.cpu);
  const url = `http://127.0.0.1:${options.port}/`;
  await waitForHttp(url, 30_000);
  const daemonPid = Number(readFileSync(`${home}/pm2.pid`, 'utf8').trim());
  return {
    url,
    daemonPid,
    async reload() {
      await pm2(['reload', 'bench'], null);
    },
    async kill() {
      await pm2(['kill'], null);
    },
  };
}

function run(command: { command: string; args: string[] }, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command.command, command.args, { env, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command.args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}
