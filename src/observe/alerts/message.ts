/**
 * What an alert says: a subject a person can act on from the inbox, and a body
 * with everything needed to start (the stack and request for an app error,
 * like Django's AdminEmailHandler). The same words go to email and webhooks.
 */
import { hostname } from 'node:os';
import { VERSION } from '../../version.ts';
import type { Incident, IncidentKind } from '../incidents.ts';

export interface AlertMessage {
  kind: IncidentKind;
  severity: 'error' | 'warning' | 'resolved';
  subject: string;
  text: string;
  incident: Incident;
  host: string;
  /** Alerts for this problem held back since the last one that went out. */
  heldBack: number;
  heldBackByHourlyLimit: number;
}

const PREFIX: Record<IncidentKind, string> = {
  // The status the client got, from the incident.
  'app-error': 'Error',
  'worker-crash': 'Worker crashed',
  'worker-hung': 'Worker hung',
  'reload-failed': 'Reload failed',
  'crash-loop': 'Crash loop',
  'certificate-failed': 'Certificate',
  'upstream-down': 'DOWN',
  'upstream-up': 'BACK',
  'service-down': 'DOWN',
  'service-up': 'BACK',
  'ddns-stopped': 'DDNS',
};

const INTRO: Record<IncidentKind, string> = {
  'app-error': 'The app threw an error while handling a request (the client got a 500), or answered with a 5xx status itself.',
  'worker-crash': 'A worker process died; Kirin started a new one.',
  'worker-hung': 'A worker blocked its event loop for longer than `timeout`; Kirin killed it and started a new one.',
  'reload-failed': 'A reload failed; the previous generation keeps serving.',
  'crash-loop': 'Workers keep dying soon after they start. Kirin keeps trying, with a growing delay.',
  'certificate-failed': 'Kirin could not obtain or renew a TLS certificate. It will try again; if the current certificate expires first, browsers will refuse the site.',
  'upstream-down': 'A proxy upstream stopped answering its health checks (or its requests failed); Kirin sends its traffic to the other upstreams of the route, if any.',
  'upstream-up': 'A proxy upstream that was down answers again.',
  'service-down': 'A service Kirin runs is down; Kirin restarts it.',
  'service-up': 'A service that was down runs again.',
  'ddns-stopped': 'The DDNS provider refused an update in a way retrying cannot fix, so Kirin stopped sending updates: if the public address changes, the names will point to the old one. Fix the cause, then run kirin reload.',
};

export interface MessageOptions {
  heldBack: number;
  heldBackByHourlyLimit: number;
  windowMs: number;
  perHour: number;
  host?: string;
}

export function composeAlert(incident: Incident, options: MessageOptions): AlertMessage {
  const host = options.host ?? hostname();
  const title = incident.title.length > 160 ? `${incident.title.slice(0, 157)}…` : incident.title;
  const lines = [INTRO[incident.kind], '', incident.detail, ''];
  if (options.heldBack > 0) lines.push(`${options.heldBack} more like this since the last alert were not sent (one alert per problem every ${options.windowMs / 60_000} minutes).`);
  if (options.heldBackByHourlyLimit > 0) lines.push(`${options.heldBackByHourlyLimit} other alerts were not sent: the limit is ${options.perHour} an hour.`);
  lines.push('--', `Kirin ${VERSION} on ${host}, ${new Date(incident.time).toISOString()}. The dashboard and the error log have more.`);
  return {
    kind: incident.kind,
    severity: incident.state === 'up' ? 'resolved' : incident.kind === 'app-error' || incident.kind === 'crash-loop' || incident.state === 'down' ? 'error' : 'warning',
    subject: `[Kirin ${host}] ${incident.kind === 'app-error' ? `Error ${incident.status ?? 500}` : PREFIX[incident.kind]}: ${title}`,
    text: lines.join('\n'),
    incident,
    host,
    heldBack: options.heldBack,
    heldBackByHourlyLimit: options.heldBackByHourlyLimit,
  };
}

/** The webhook's JSON body. `text` makes it readable as-is by Slack- and Mattermost-style incoming webhooks. */
export function webhookBody(alert: AlertMessage): Record<string, unknown> {
  return {
    text: alert.subject,
    kind: alert.kind,
    severity: alert.severity,
    title: alert.incident.title,
    detail: alert.incident.detail,
    state: alert.incident.state ?? null,
    count: alert.incident.count,
    heldBack: alert.heldBack,
    heldBackByHourlyLimit: alert.heldBackByHourlyLimit,
    host: alert.host,
    time: new Date(alert.incident.time).toISOString(),
    kirin: VERSION,
  };
}
