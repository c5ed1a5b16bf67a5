/**
 * Session ticket keys, made by the master and pushed to every worker, so a
 * client resumes its session (skipping the full handshake) on whichever worker
 * accepts its next connection, and across reloads. Rotated twice a day: a
 * stolen key opens at most half a day of recorded traffic (forward secrecy for
 * resumed sessions is only as good as the key's lifetime).
 */
import { randomBytes } from 'node:crypto';

export const TICKET_ROTATION_MS = 12 * 3600_000;

export class TicketKeys {
  #keys = randomBytes(48);
  #timer: NodeJS.Timeout | null = null;

  /** Base64 of the 48 bytes Node's setTicketKeys takes (name, HMAC secret, AES key). */
  get current(): string {
    return this.#keys.toString('base64');
  }

  start(onRotate: (keys: string) => void): void {
    this.#timer = setInterval(() => {
      this.#keys = randomBytes(48);
      onRotate(this.current);
    }, TICKET_ROTATION_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
