/**
 * The deploy audit's catalog: every check has a stable ID (never reused, never
 * renumbered), a severity and a section in docs/checks.md named after the ID.
 *
 * `deploy: false` checks run on every `kirin check`: they catch mistakes that
 * matter on a laptop too. The rest run with `--deploy`, like Django's
 * `check --deploy`.
 */

export type Severity = 'error' | 'warning' | 'info';

export interface CheckInfo {
  title: string;
  severity: Severity;
  deploy: boolean;
}

export const CHECKS = {
  K001: { title: 'configuration error', severity: 'error', deploy: false },
  K002: { title: 'NODE_ENV is not production', severity: 'warning', deploy: true },
  K003: { title: 'debug mode is on', severity: 'error', deploy: true },
  K004: { title: 'secret is too short', severity: 'warning', deploy: true },
  K005: { title: 'secret has too few distinct characters', severity: 'warning', deploy: true },
  K006: { title: 'secret is a placeholder', severity: 'error', deploy: true },
  K007: { title: 'same secret in two env files', severity: 'warning', deploy: true },
  K008: { title: 'env file readable by other users', severity: 'warning', deploy: true },
  K009: { title: 'env file tracked by git', severity: 'error', deploy: false },
  K010: { title: 'secret file inside a static root', severity: 'error', deploy: false },
  K011: { title: "catch-all '*' site", severity: 'warning', deploy: true },
  K012: { title: 'no public host name', severity: 'warning', deploy: true },
  K013: { title: 'TLS off for a public host name', severity: 'error', deploy: true },
  K014: { title: 'HSTS off or short', severity: 'warning', deploy: true },
  K015: { title: 'trustedProxies trusts every address', severity: 'error', deploy: false },
  K016: { title: 'admin listener reachable without a token', severity: 'error', deploy: false },
  K017: { title: 'static root contains dotfiles', severity: 'warning', deploy: false },
  K018: { title: 'symlink leaving a static root', severity: 'warning', deploy: false },
  K019: { title: 'runs as root', severity: 'warning', deploy: true },
  K020: { title: 'port below 1024 without the capability to bind it', severity: 'error', deploy: true },
  K021: { title: 'more workers than the CPUs can run', severity: 'warning', deploy: true },
  K022: { title: 'more workers than the memory holds', severity: 'warning', deploy: true },
  K023: { title: 'certificate expires within 14 days', severity: 'error', deploy: true },
  K024: { title: 'no ACME account e-mail', severity: 'info', deploy: true },
  K025: { title: "firewall blocks Kirin's ports", severity: 'error', deploy: true },
  K026: { title: 'DDNS name does not point at this machine', severity: 'warning', deploy: true },
  K027: { title: 'behind carrier-grade NAT', severity: 'warning', deploy: true },
  K030: { title: 'relay tunnel down', severity: 'error', deploy: true },
  K031: { title: 'no recent WireGuard handshake', severity: 'warning', deploy: true },
  K032: { title: 'PROXY listener trusts more than the relay', severity: 'error', deploy: true },
  K033: { title: "firewall blocks WireGuard's port", severity: 'error', deploy: true },
  K034: { title: 'runs in dev mode', severity: 'error', deploy: true },
} as const satisfies Record<string, CheckInfo>;

export type CheckId = keyof typeof CHECKS;

export const CHECK_IDS = Object.keys(CHECKS) as CheckId[];

export interface Finding {
  id: CheckId;
  severity: Severity;
  title: string;
  /** What is wrong, in this deployment's terms (never a secret's value). */
  message: string;
  /** The thing to change: a command to run or a config edit. */
  fix: string;
  /** The file, config key or variable it is about. */
  where: string | null;
  /** Where the check is explained. */
  docs: string;
}

export function docsAnchor(id: CheckId): string {
  return `docs/checks.md#${id.toLowerCase()}`;
}

export function finding(id: CheckId, message: string, fix: string, where: string | null = null): Finding {
  const info: CheckInfo = CHECKS[id];
  return { id, severity: info.severity, title: info.title, message, fix, where, docs: docsAnchor(id) };
}
