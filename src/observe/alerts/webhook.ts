/**
 * Alerts as a JSON POST to `notify.webhook` (a chat's incoming webhook, an
 * incident tool, your own endpoint). Any 2xx is delivered; anything else is an
 * error for the log. No retries: the next alert for the problem follows anyway.
 */
import { redactUrl } from '../redact.ts';
import { webhookBody, type AlertMessage } from './message.ts';

const TIMEOUT_MS = 10_000;

export class WebhookChannel {
  /** Where it posts, for log lines: the origin only (chat webhook paths are secrets). */
  describe(url: string): string {
    try {
      return `webhook ${new URL(redactUrl(url)).origin}`;
    } catch {
      return 'webhook';
    }
  }

  async send(url: string, alert: AlertMessage): Promise<void> {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'kirin-alerts' },
      body: JSON.stringify(webhookBody(alert)),
      signal: AbortSignal.timeout(TIMEOUT_MS),
      redirect: 'error',
    });
    await res.body?.cancel();
    if (!res.ok) throw new Error(`answered ${res.status}`);
  }
}
