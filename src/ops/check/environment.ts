/**
 * K002, K003: the environment says production and no debug switch is on.
 * Libraries read NODE_ENV (Express caches views only in production, React
 * ships its development build otherwise); DEBUG and --inspect expose internals.
 */
import { finding, type Finding } from './catalog.ts';
import type { AuditContext } from './context.ts';

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on']);

export function checkEnvironment(ctx: AuditContext): Finding[] {
  const findings: Finding[] = [];
  const nodeEnv = ctx.env.NODE_ENV;
  const where = `NODE_ENV (${ctx.envSource})`;
  if (nodeEnv === 'development') {
    findings.push(finding('K003', 'NODE_ENV is "development": libraries turn on development builds, verbose errors and no caching', setInstead('NODE_ENV=production', ctx), where));
  } else if (nodeEnv !== undefined && nodeEnv !== 'production') {
    // Unset is fine: `kirin serve` gives the app NODE_ENV=production then (cli/serve.ts).
    findings.push(finding('K002', `NODE_ENV is "${nodeEnv}"; libraries (Express, React, …) behave as in development unless it is "production"`, setInstead('NODE_ENV=production', ctx), where));
  }
  const debug = ctx.env.DEBUG;
  if (debug !== undefined && TRUE_WORDS.has(debug.trim().toLowerCase())) {
    findings.push(finding('K003', `DEBUG is "${debug}": debug output and error pages can show internals`, 'remove DEBUG (or set DEBUG=false) in the production environment', `DEBUG (${ctx.envSource})`));
  }
  const nodeOptions = ctx.env.NODE_OPTIONS ?? '';
  if (/--inspect(-brk|-wait)?\b/.test(nodeOptions)) {
    findings.push(finding('K003', 'NODE_OPTIONS has --inspect: the debugger port runs any code anyone who reaches it sends', 'remove --inspect from NODE_OPTIONS', `NODE_OPTIONS (${ctx.envSource})`));
  }
  return findings;
}

function setInstead(assignment: string, ctx: AuditContext): string {
  if (ctx.host.unit) return `set ${assignment} in ${ctx.host.unit.path} (Environment=${assignment}) or in an env file it loads`;
  const envFile = ctx.envFiles.find((f) => f.loaded);
  return envFile ? `add ${assignment} to ${envFile.path}` : `add ${assignment} to an env file (envFiles: ['.env']) or the service's environment; \`kirin install\` sets it in the unit`;
}
