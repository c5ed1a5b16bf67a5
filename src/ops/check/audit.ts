/**
 * `kirin check`: load the config as `serve` would, run every check family,
 * and return the findings in catalog order.
 */
import { checkAdminExposure, isAdminTokenProblem } from './admin.ts';
import { CHECK_IDS, CHECKS, type CheckId, type Finding } from './catalog.ts';
import { checkAcmeEmail, checkCertificateExpiry } from './certificates.ts';
import type { AuditContext } from './context.ts';
import { checkEnvFilePermissions, checkEnvFilesInGit, checkSecretFilesInStaticRoots } from './env-files.ts';
import { checkEnvironment } from './environment.ts';
import { checkDdns } from './ddns.ts';
import { checkDevMode } from './dev-mode.ts';
import { checkFirewall } from './firewall.ts';
import { checkProxyTrust, checkRelayTunnel } from './relay.ts';
import { loadAuditContext, type AuditInput } from './load.ts';
import { checkPrivilegedPorts, checkRoot, checkWorkerCount } from './process.ts';
import { checkSecretReuse, checkSecretStrength } from './secrets.ts';
import { checkHostNames, checkTls, checkTrustedProxies } from './sites.ts';
import { checkStaticRoots } from './static-roots.ts';

export type { AuditInput } from './load.ts';

type CheckFamily = { ids: CheckId[]; run: (ctx: AuditContext) => Finding[] | Promise<Finding[]> };

/** Every family with the IDs it reports; a family runs when one of its checks applies (some need --deploy). */
const FAMILIES: CheckFamily[] = [
  { ids: ['K002', 'K003'], run: checkEnvironment },
  { ids: ['K004', 'K005', 'K006'], run: checkSecretStrength },
  { ids: ['K007'], run: checkSecretReuse },
  { ids: ['K008'], run: checkEnvFilePermissions },
  { ids: ['K009'], run: checkEnvFilesInGit },
  { ids: ['K010'], run: checkSecretFilesInStaticRoots },
  { ids: ['K011', 'K012'], run: checkHostNames },
  { ids: ['K013', 'K014'], run: checkTls },
  { ids: ['K015'], run: checkTrustedProxies },
  { ids: ['K016'], run: checkAdminExposure },
  { ids: ['K017', 'K018'], run: checkStaticRoots },
  { ids: ['K019'], run: checkRoot },
  { ids: ['K020'], run: checkPrivilegedPorts },
  { ids: ['K021', 'K022'], run: checkWorkerCount },
  { ids: ['K023'], run: checkCertificateExpiry },
  { ids: ['K024'], run: checkAcmeEmail },
  { ids: ['K025'], run: checkFirewall },
  { ids: ['K026', 'K027'], run: checkDdns },
  { ids: ['K030', 'K031', 'K033'], run: checkRelayTunnel },
  { ids: ['K032'], run: checkProxyTrust },
  { ids: ['K034'], run: checkDevMode },
];

export interface AuditReport {
  configFile: string | null;
  deploy: boolean;
  findings: Finding[];
  /** The IDs --ignore silenced. */
  ignored: CheckId[];
  notes: string[];
}

export async function runAudit(input: AuditInput, ignore: readonly CheckId[] = []): Promise<AuditReport> {
  const { context, findings } = await loadAuditContext(input);
  const applies = (id: CheckId) => (input.deploy || !CHECKS[id].deploy) && !ignore.includes(id);
  for (const family of FAMILIES) {
    if (family.ids.some(applies)) findings.push(...(await family.run(context)));
  }
  let kept = findings.filter((f) => input.deploy || !CHECKS[f.id].deploy);
  if (kept.some((f) => f.id === 'K016' && f.where === 'admin.listen')) kept = kept.filter((f) => !(f.id === 'K001' && isAdminTokenProblem(f.where)));
  kept = kept.filter((f) => !ignore.includes(f.id));
  kept.sort((a, b) => CHECK_IDS.indexOf(a.id) - CHECK_IDS.indexOf(b.id));
  return { configFile: context.configFile, deploy: input.deploy, findings: kept, ignored: [...new Set(ignore)], notes: context.notes };
}

/** Exit status: errors fail; with --strict, warnings too. Info never does. */
export function auditFailed(report: AuditReport, strict: boolean): boolean {
  return report.findings.some((f) => f.severity === 'error' || (strict && f.severity === 'warning'));
}
