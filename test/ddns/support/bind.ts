/**
 * A real BIND 9 (Debian's /usr/sbin/named) for the RFC 2136 tests: one primary
 * zone on a free loopback port, updatable with one TSIG key, in a temporary
 * folder. Ready when named says "running"; `dig` (bind9-dnsutils) reads the
 * records back.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { forEachLine } from '../../../src/util/lines.ts';
import { freePort, tempDir } from '../../support/kirin.ts';

const run = promisify(execFile);

export interface Bind {
  port: number;
  zone: string;
  keyName: string;
  /** The key's secret, base64 (as tsig-keygen prints it). */
  secret: string;
  /** The records `dig` finds for a name and type (addresses, one per line). */
  dig(name: string, type: 'A' | 'AAAA'): Promise<string[]>;
  log(): string;
  stop(): Promise<void>;
}

export async function startBind(zone = 'home.example', keyName = 'kirin-ddns'): Promise<Bind> {
  const dir = tempDir('kirin-bind-');
  const secret = randomBytes(32).toString('base64');
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    writeFileSync(
      join(dir, 'named.conf'),
      `options { directory "${dir}"; pid-file "${dir}/named.pid"; listen-on port ${port} { 127.0.0.1; }; listen-on-v6 { none; }; recursion no; dnssec-validation no; notify no; };
key "${keyName}." { algorithm hmac-sha256; secret "${secret}"; };
zone "${zone}" { type primary; file "${dir}/${zone}.zone"; update-policy { grant ${keyName}. zonesub A AAAA; }; };
`,
    );
    writeFileSync(join(dir, `${zone}.zone`), `$TTL 300\n@ IN SOA ns.${zone}. admin.${zone}. 1 3600 600 86400 300\n@ IN NS ns.${zone}.\nns IN A 127.0.0.1\n`);
    const child = spawn('/usr/sbin/named', ['-g', '-n', '1', '-c', join(dir, 'named.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    const ready = new Promise<boolean>((resolve) => {
      const onLine = (line: string) => {
        text += `${line}\n`;
        if (/\brunning$/.test(line)) resolve(true);
        if (/address in use|exiting \(due to (fatal|early fatal) error\)/.test(line)) resolve(false);
      };
      forEachLine(child.stdout!, onLine);
      forEachLine(child.stderr!, onLine);
      child.once('exit', () => resolve(false));
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const ok = await ready;
    clearTimeout(timer);
    if (!ok) {
      await stopChild(child);
      if (attempt < 3 && /address in use/.test(text)) continue;
      throw new Error(`named did not start:\n${text}`);
    }
    return {
      port,
      zone,
      keyName,
      secret,
      async dig(name, type) {
        const { stdout } = await run('dig', ['+short', '+norecurse', '+time=2', '+tries=1', '-p', String(port), '@127.0.0.1', name, type]);
        return stdout.split('\n').map((l) => l.trim()).filter(Boolean).sort();
      },
      log: () => text,
      stop: () => stopChild(child),
    };
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
