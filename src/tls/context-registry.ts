/**
 * The certificates a worker serves, as secure contexts by host name. SNI looks
 * a name up here: the exact name first, then a `*.parent` wildcard one label
 * up. A name that is not here gets no certificate at all (the handshake fails
 * with an alert), never another site's.
 */
import type { SecureContext } from 'node:tls';
import { SECURE_CONTEXT_OPTIONS } from './profile.ts';
import type { WorkerCertificate } from './messages.ts';

export class ContextRegistry {
  readonly #byId = new Map<string, { names: string[]; context: SecureContext }>();
  #exact = new Map<string, SecureContext>();
  #wildcard = new Map<string, SecureContext>();

  /** Adds or replaces a certificate; new handshakes use it at once, open connections keep theirs. */
  set(certificate: WorkerCertificate): void {
    this.#byId.set(certificate.id, entry(certificate));
    this.#reindex();
  }

  delete(id: string): void {
    if (this.#byId.delete(id)) this.#reindex();
  }

  /** Replaces everything (a snapshot from the master); returns the ones that could not be loaded, with why. */
  reset(certificates: WorkerCertificate[]): { id: string; error: Error }[] {
    this.#byId.clear();
    const failed: { id: string; error: Error }[] = [];
    for (const certificate of certificates) {
      try {
        this.#byId.set(certificate.id, entry(certificate));
      } catch (error) {
        failed.push({ id: certificate.id, error: error as Error });
      }
    }
    this.#reindex();
    return failed;
  }

  lookup(servername: string): SecureContext | undefined {
    const name = servername.toLowerCase();
    const exact = this.#exact.get(name);
    if (exact !== undefined || this.#wildcard.size === 0) return exact;
    const dot = name.indexOf('.');
    return dot > 0 ? this.#wildcard.get(name.slice(dot + 1)) : undefined;
  }

  has(host: string): boolean {
    return this.lookup(host) !== undefined;
  }

  get size(): number {
    return this.#byId.size;
  }

  #reindex(): void {
    const exact = new Map<string, SecureContext>();
    const wildcard = new Map<string, SecureContext>();
    for (const { names, context } of this.#byId.values()) {
      for (const name of names) {
        if (name.startsWith('*.')) wildcard.set(name.slice(2), context);
        else exact.set(name, context);
      }
    }
    this.#exact = exact;
    this.#wildcard = wildcard;
  }
}

function entry(certificate: WorkerCertificate): { names: string[]; context: SecureContext } {
  return {
    names: certificate.names.map((n) => n.toLowerCase()),
    // Taken when a certificate arrives, not at import: a worker with TLS sites but no https listener (systemd passed plain sockets only) never needs node:tls.
    context: process.getBuiltinModule('node:tls').createSecureContext({ ...SECURE_CONTEXT_OPTIONS, cert: certificate.certPem, key: certificate.keyPem }),
  };
}
