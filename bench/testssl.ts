/**
 * testssl.sh (Debian package `testssl.sh`) against Kirin's https listener
 * (issue 5, Must show 3). What is judged is Kirin's TLS (protocols, ciphers,
 * curves, resumption, headers), so the site gets a certificate shaped like a
 * Let's Encrypt one — ECDSA P-256, 90 days, a CRL distribution point — from a
 * throwaway CA made here with openssl, which testssl is told to trust
 * (--add-ca). (Kirin's local CA issues no revocation URL: it is for one
 * machine; testssl rates that HIGH, as it would for any private CA.)
 * Prints a summary by severity and every finding rated LOW or above; exits 1
 * when anything is HIGH or CRITICAL. Takes a few minutes.
 *
 * Usage: node bench/testssl.ts [--json FILE]   (npm run build first)
 * The summary of the last run is in docs/https.md.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, startKirin, tempDir, writeFiles } from '../test/support/kirin.ts';
import { requireBuild, requireCommands } from './lib/prereq.ts';

interface Finding {
  id: string;
  severity: string;
  finding: string;
}

const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'WARN', 'OK', 'INFO'] as const;

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { json: { type: 'string' } } });
  requireBuild();
  requireCommands(['testssl', 'openssl']);
  const dir = tempDir('kirin-testssl-');
  const port = await freePort();
  makeCertificate(dir);
  writeFiles(dir, {
    'app.ts': `export default { fetch: () => new Response('Hello, world!') };\n`,
    'kirin.config.json': JSON.stringify({
      workers: 1,
      admin: false,
      accessLog: false,
      stateDir: './state',
      listen: { https: [`127.0.0.1:${port}`] },
      sites: { 'app.localhost': { tls: { cert: './leaf.crt', key: './leaf.key' }, '/': { app: './app.ts' } } },
    }),
  });
  const kirin = await startKirin({ cwd: dir, args: ['serve', '--config', 'kirin.config.json'] });
  const jsonFile = values.json ?? join(dir, 'testssl.json');
  try {
    const root = join(dir, 'ca.crt');
    const args = ['--quiet', '--color', '0', '--warnings', 'off', '--add-ca', root, '--ip', '127.0.0.1', '--jsonfile', jsonFile, `https://app.localhost:${port}/`];
    process.stdout.write(`testssl ${args.join(' ')}\n`);
    const code = await new Promise<number>((resolve) => {
      const child = spawn('testssl', args, { stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('exit', (c) => resolve(c ?? 1));
    });
    process.stdout.write(`testssl exited with ${code}\n\n`);
  } finally {
    await kirin.stop();
  }
  const findings = JSON.parse(readFileSync(jsonFile, 'utf8')) as Finding[];
  const summary = summarize(findings);
  process.stdout.write(summary);
  writeFileSync(join(dir, 'summary.md'), summary);
  return findings.some((f) => f.severity === 'HIGH' || f.severity === 'CRITICAL') ? 1 : 0;
}

/** A CA and a leaf for app.localhost shaped like Let's Encrypt's (openssl is fine here; Kirin never runs it). */
function makeCertificate(dir: string): void {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3650', '-subj', '/CN=Kirin testssl CA');
  openssl('req', ...ec, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=app.localhost');
  writeFileSync(
    join(dir, 'leaf.ext'),
    'subjectAltName=DNS:app.localhost\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\ncrlDistributionPoints=URI:http://crl.kirin.test/ca.crl\n',
  );
  openssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.crt', '-days', '90', '-extfile', 'leaf.ext');
}

function summarize(findings: Finding[]): string {
  const counts = SEVERITIES.map((s) => `${s} ${findings.filter((f) => f.severity === s).length}`).join(', ');
  const lines = [`testssl.sh findings by severity: ${counts}`, ''];
  for (const severity of ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'] as const) {
    for (const f of findings.filter((x) => x.severity === severity)) lines.push(`- ${severity} ${f.id}: ${f.finding}`);
  }
  return `${lines.join('\n')}\n`;
}

process.exitCode = await main();
