/**
 * Alerts by email over SMTP, with nodemailer (the maintained SMTP client for
 * Node: STARTTLS, SMTPS, AUTH, pooling, address encoding — not something to
 * hand-write). `notify.email.url` is nodemailer's connection URL:
 * smtp://user:pass@host:587 (STARTTLS when offered, certificate checked) or
 * smtps://user:pass@host:465. Loaded on the first mail: it adds some 20 MB to
 * the master, which a Kirin without `notify.email` should not carry.
 */
import type { createTransport } from 'nodemailer';
import type { NotifyPlan } from '../../config/plan.ts';
import { redactUrl } from '../redact.ts';
import type { AlertMessage } from './message.ts';

type EmailPlan = NonNullable<NotifyPlan['email']>;
type Transport = ReturnType<typeof createTransport>;

export class EmailChannel {
  #transport: Transport | null = null;
  #url = '';

  /** Where mail goes, without the password, for log lines. */
  describe(plan: EmailPlan): string {
    return `email to ${plan.to.join(', ')} via ${redactUrl(plan.url)}`;
  }

  async send(plan: EmailPlan, alert: AlertMessage): Promise<void> {
    const transport = await this.#transportFor(plan.url);
    await transport.sendMail({
      from: plan.from,
      to: plan.to,
      subject: alert.subject,
      text: alert.text,
      headers: { 'X-Kirin-Alert': alert.kind, 'Auto-Submitted': 'auto-generated' },
    });
  }

  close(): void {
    this.#transport?.close();
    this.#transport = null;
  }

  async #transportFor(url: string): Promise<Transport> {
    if (this.#transport && this.#url === url) return this.#transport;
    const { createTransport } = await import('nodemailer');
    if (this.#transport && this.#url === url) return this.#transport;
    this.close();
    // Short timeouts: an unreachable mail server must not hold alerts for minutes. The URL's own options win.
    this.#transport = createTransport({ url, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 });
    this.#url = url;
    return this.#transport;
  }
}
