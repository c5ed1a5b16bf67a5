/**
 * K023, K024: certificates. Kirin renews ACME certificates when a third of
 * their lifetime is left (30 days for Let's Encrypt's 90), so one with under
 * 14 days left means renewals have been failing — or a certificate file the
 * user manages is about to run out.
 */
import { X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { finding, type Finding } from './catalog.ts';
import type { AuditContext } from './context.ts';

export const EXPIRY_WARNING_DAYS = 14;
const DAY_MS = 86_400_000;

/** `<tls storage>/certificates/<name>/cert.pem`, the layout Kirin's certificate store writes. */
export function storedCertificateFiles(storage: string): string[] {
  const folder = join(storage, 'certificates');
  try {
    return readdirSync(folder, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => join(folder, e.name, 'cert.pem'))
      .sort();
  } catch {
    return [];
  }
}

export function checkCertificateExpiry(ctx: AuditContext): Finding[] {
  if (!ctx.plan) return [];
  const files = new Set(storedCertificateFiles(ctx.plan.tls.storage));
  for (const site of ctx.plan.sites) if (site.tls.mode === 'files') files.add(site.tls.cert);
  const findings: Finding[] = [];
  for (const file of files) {
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(readFileSync(file));
    } catch {
      continue; // A missing or unreadable file is the certificate store's (or the config's) error to report.
    }
    const notAfter = Date.parse(certificate.validTo);
    const daysLeft = Math.floor((notAfter - ctx.host.now) / DAY_MS);
    if (daysLeft >= EXPIRY_WARNING_DAYS) continue;
    const names = (certificate.subjectAltName ?? certificate.subject).replace(/DNS:/g, '');
    const when = notAfter <= ctx.host.now ? `expired on ${new Date(notAfter).toISOString().slice(0, 10)}` : `expires on ${new Date(notAfter).toISOString().slice(0, 10)}, in ${daysLeft} day${daysLeft === 1 ? '' : 's'}`;
    findings.push(
      finding(
        'K023',
        `the certificate for ${names} ${when}`,
        file.startsWith(ctx.plan.tls.storage)
          ? 'find out why renewal fails: kirin status and the log (journalctl -u kirin | grep -i acme); check DNS points here and port 80 is reachable from the internet'
          : `replace ${file} with a renewed certificate and run kirin reload, or let Kirin manage it: tls: 'auto'`,
        file,
      ),
    );
  }
  return findings;
}

export function checkAcmeEmail(ctx: AuditContext): Finding[] {
  if (!ctx.plan || ctx.plan.tls.email !== null) return [];
  const acmeSites = ctx.plan.sites.filter((s) => s.tls.mode === 'auto');
  if (acmeSites.length === 0) return [];
  return [
    finding(
      'K024',
      `${acmeSites.length} site${acmeSites.length === 1 ? ' gets its certificate' : 's get their certificates'} from ACME without an account e-mail: the CA cannot reach you about your account, and some CAs refuse accounts without one`,
      "set tls: { email: 'you@example.com' } (and notify, so Kirin itself tells you when a renewal fails)",
      'tls.email',
    ),
  ];
}
