/** `kirin certs` — the certificates of a running Kirin; `kirin certs renew NAME` renews one now. */
import { ExitCode, KirinError } from '../errors.ts';
import type { CertificateStatus } from '../master/providers.ts';
import { parseControlArgs, sendToMaster } from './control-args.ts';

const USAGE = `Usage: kirin certs [--json] [--state-dir DIR] [--config FILE] [--unit-dir DIR]
       kirin certs renew NAME [--state-dir DIR] [--config FILE] [--unit-dir DIR]

Lists the certificates the running Kirin serves: names, where they come from
(acme, local, files), issuer, expiry, next renewal, and the last error if the
last attempt failed. \`renew NAME\` renews the certificate that covers NAME now
and waits for the result (exit 1 if it failed). Finds the master the way
\`kirin status\` does.
`;

export async function run(argv: string[]): Promise<number> {
  const { args, positionals } = await parseControlArgs(argv, USAGE, { installed: true }, {}, 2);
  if (args.help) {
    process.stdout.write(USAGE);
    return ExitCode.OK;
  }
  if (positionals.length === 0) {
    const list = (await sendToMaster(args, 'certs', {}, 10_000)) as CertificateStatus[];
    process.stdout.write(args.json ? `${JSON.stringify(list, null, 2)}\n` : formatCertificates(list));
    return ExitCode.OK;
  }
  if (positionals[0] !== 'renew' || positionals.length !== 2) throw new KirinError('KIRIN_ERR_USAGE', `expected "kirin certs" or "kirin certs renew NAME"\n\n${USAGE}`);
  const status = (await sendToMaster(args, 'certs', { renew: positionals[1] }, 300_000)) as CertificateStatus;
  if (args.json) process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
  else if (status.state === 'valid') process.stdout.write(`renewed: ${status.names.join(', ')} from ${status.issuer}, valid until ${date(status.notAfter)}\n`);
  else process.stderr.write(`kirin: renewing ${status.names.join(', ')} failed: ${status.lastError ?? status.state}\n`);
  return status.state === 'valid' ? ExitCode.OK : ExitCode.FAILURE;
}

export function formatCertificates(list: CertificateStatus[]): string {
  if (list.length === 0) return 'no TLS sites: nothing to show\n';
  const rows = [['NAMES', 'SOURCE', 'STATE', 'ISSUER', 'EXPIRES', 'NEXT RENEWAL']];
  for (const c of list) {
    rows.push([c.names.join(', '), c.source, c.state, c.issuer || '-', c.notAfter ? date(c.notAfter) : '-', c.renewAt ? date(c.renewAt) : '-']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
  for (const c of list) if (c.lastError) lines.push(`${c.names[0]}: last attempt failed: ${c.lastError}`);
  return `${lines.join('\n')}\n`;
}

function date(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}
