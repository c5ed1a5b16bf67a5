/** What the alerts and the dashboard's error list say when DDNS updates had to stop. */
import type { Incident } from '../observe/incident.ts';

/** Master event for a refusal that stopped updating, with a DdnsStoppedInfo. */
export const DDNS_STOPPED_EVENT = 'ddns-stopped';

export interface DdnsStoppedInfo {
  provider: string;
  target: string;
  code: string;
  message: string;
  names: string[];
}

export function ddnsIncident(info: DdnsStoppedInfo): Incident {
  return {
    kind: 'ddns-stopped',
    signature: `ddns-stopped:${info.provider}:${info.code}`,
    title: `DDNS updates for ${info.names.join(', ') || 'the names'} stopped: ${info.provider} answered ${info.code}`,
    detail: `Provider: ${info.provider} (${info.target})\nNames: ${info.names.join(', ')}\nAnswer: ${info.code}\n${info.message}\n\nkirin ddns status shows the last answer per name.`,
    time: Date.now(),
    count: 1,
  };
}
