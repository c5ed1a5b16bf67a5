/**
 * Printing an audit: for people (grouped, the fix under each finding) and for
 * machines (`--json`, one object).
 */
import type { AuditReport } from './audit.ts';
import { CHECK_IDS, type Severity } from './catalog.ts';

export function countBySeverity(report: AuditReport): Record<Severity, number> {
  const counts: Record<Severity, number> = { error: 0, warning: 0, info: 0 };
  for (const f of report.findings) counts[f.severity]++;
  return counts;
}

export function formatReportJson(report: AuditReport, failed: boolean): string {
  return `${JSON.stringify({ ok: !failed, config: report.configFile, deploy: report.deploy, counts: countBySeverity(report), findings: report.findings, ignored: report.ignored, notes: report.notes }, null, 2)}\n`;
}

export function formatReportText(report: AuditReport, failed: boolean): string {
  const lines: string[] = [];
  lines.push(`kirin check${report.deploy ? ' --deploy' : ''}: ${report.configFile ?? 'no config file (command line)'}`);
  lines.push('');
  for (const f of report.findings) {
    lines.push(`${f.severity.padEnd(7)} ${f.id}  ${f.title}`);
    lines.push(`        ${f.message}`);
    if (f.where) lines.push(`        at:   ${f.where}`);
    lines.push(`        fix:  ${f.fix}`);
    lines.push(`        see:  ${f.docs}`);
    lines.push('');
  }
  for (const note of report.notes) lines.push(`note: ${note}`);
  if (report.ignored.length > 0) lines.push(`ignored: ${report.ignored.join(', ')}`);
  const counts = countBySeverity(report);
  if (report.findings.length === 0) {
    lines.push(`No problems found (${CHECK_IDS.length} checks${report.deploy ? '' : '; add --deploy for the production checks'}).`);
  } else {
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
    lines.push(`${plural(counts.error, 'error')}, ${plural(counts.warning, 'warning')}, ${counts.info} info${failed ? '' : ' — passed'}.`);
  }
  return `${lines.join('\n')}\n`;
}
