/**
 * Does a server slow down or grow the longer it serves? Keeps wrk on one server
 * for SECONDS in 5 s slices and prints each slice's req/s next to the server's
 * memory (VmRSS of its process tree) and, as a control for the machine's own
 * drift, a 2 s run of raw node:http between slices.
 *
 *   node bench/experiments/soak.ts fetch|node|raw [--seconds 60]
 */
import { parseArgs } from 'node:util';
import { freePort } from '../../test/support/kirin.ts';
import { app } from '../lib/paths.ts';
import { startKirin } from '../lib/peers/kirin.ts';
import { startRawNode } from '../lib/peers/node-servers.ts';
import { SERVER_CPU } from '../lib/pin.ts';
import { table } from '../lib/report.ts';
import { megabytes, treeRss } from '../lib/rss.ts';
import type { Server } from '../lib/server.ts';
import { runWrk } from '../lib/wrk.ts';

const SLICE_S = 5;
const CONTROL_S = 2;

const { values, positionals } = parseArgs({ allowPositionals: true, options: { seconds: { type: 'string', default: '60' } } });
const target = positionals[0] ?? 'fetch';
if (!['fetch', 'node', 'raw'].includes(target)) throw new Error('usage: node bench/experiments/soak.ts fetch|node|raw [--seconds 60]');

const servers: Server[] = [];
try {
  const control = await startRawNode(await freePort(), SERVER_CPU, 'control');
  servers.push(control);
  const server =
    target === 'raw'
      ? await startRawNode(await freePort(), SERVER_CPU)
      : await startKirin({ name: `kirin ${target}`, app: app(target === 'fetch' ? 'hello-fetch.ts' : 'hello-node.ts'), port: await freePort(), workers: 1, accessLog: 'off', cpu: SERVER_CPU });
  servers.push(server);
  const rows: (string | number)[][] = [];
  let served = 0;
  for (let elapsed = 0; elapsed < Number(values.seconds); elapsed += SLICE_S) {
    const slice = await runWrk({ url: server.url, durationS: SLICE_S });
    served += slice.requests;
    const memory = treeRss(server.pid);
    const reference = await runWrk({ url: control.url, durationS: CONTROL_S });
    rows.push([elapsed + SLICE_S, served, slice.requestsPerSec, reference.requestsPerSec, (slice.requestsPerSec / reference.requestsPerSec).toFixed(2), megabytes(memory.totalBytes)]);
    console.log(`  ${elapsed + SLICE_S} s: ${Math.round(slice.requestsPerSec)} req/s (control ${Math.round(reference.requestsPerSec)}), ${megabytes(memory.totalBytes)} MB`);
  }
  console.log(table(['s', 'requests served', `${target} req/s`, 'control req/s', '÷ control', 'RSS MB'], rows));
} finally {
  for (const server of servers) await server.stop();
}
