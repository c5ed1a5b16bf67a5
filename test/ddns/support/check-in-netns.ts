/**
 * Run inside a test's network namespace: two echo services on its loopback
 * (answering argv[2]), a project whose ddns section uses them, and
 * `kirin check --deploy --json` run there; prints the CLI's JSON.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KIRIN_BIN, tempDir } from '../../support/kirin.ts';
import { startEcho } from './stand-ins.ts';

const answer = process.argv[2]!;
const echoes = [await startEcho(answer), await startEcho(answer)];
const dir = tempDir('kirin-ddns-check-');
writeFileSync(join(dir, '.env'), 'DDNS_TSIG_SECRET=c2VjcmV0\n', { mode: 0o600 });
writeFileSync(
  join(dir, 'kirin.config.json'),
  JSON.stringify({
    envFiles: ['.env'],
    sites: { 'www.home.example': { '/': { respond: 'home' } } },
    ddns: { provider: 'rfc2136', server: '127.0.0.1:9', zone: 'home.example', key: { name: 'kirin-ddns', secret: '$DDNS_TSIG_SECRET' }, ipv6: false, detect: { ipv4: echoes.map((e) => e.url) } },
  }),
);
const out = await promisify(execFile)(process.execPath, [KIRIN_BIN, 'check', '--deploy', '--json'], { cwd: dir }).then(
  (r) => r.stdout,
  (e: { stdout: string }) => e.stdout,
);
process.stdout.write(out);
await Promise.all(echoes.map((e) => e.close()));
