/**
 * Getting a certificate from an ACME CA (Let's Encrypt, or Pebble in tests)
 * with acme-client: the account (key and URL kept in the store), then one
 * order with HTTP-01 or TLS-ALPN-01, answered by the workers through a
 * ChallengeResponder. ECDSA P-256 keys, as Caddy uses: small and fast to
 * handshake.
 *
 * acme-client's defaults suit a script, not a server: its status polling
 * starts at 5 s and its retry on a refused connection waits 5, 10, 15 … s.
 * Kirin polls from 250 ms and keeps its own retries short; the certificate
 * manager's backoff (up to a day) takes over from there. Its own pre-check of
 * a challenge (fetching the token itself before telling the CA) is skipped:
 * it resolves names the way this machine does, not the way the CA does, which
 * behind NAT or in tests says nothing useful.
 */
import { Agent } from 'node:https';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import acme from 'acme-client';
import type { Logger } from '../observe/log.ts';
import type { CertificateStore } from './store.ts';

export type ChallengeType = 'http-01' | 'tls-alpn-01';

export type PresentedChallenge =
  | { type: 'http-01'; name: string; token: string; keyAuthorization: string }
  | { type: 'tls-alpn-01'; name: string; certPem: string; keyPem: string };

/** Puts challenge answers in front of the CA (every worker), and takes them down. */
export interface ChallengeResponder {
  /** Resolves once every worker answers it. */
  present(challenge: PresentedChallenge): Promise<void>;
  withdraw(challenge: PresentedChallenge): void;
}

export interface AcmeSettings {
  directory: string;
  email: string | null;
  /** Extra CA certificates (PEM file) to trust for the ACME server's own TLS. */
  caBundle: string | null;
}

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
}

const axiosSettings = (acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number; retryDefaultDelay: number } }).acmeSettings;
axiosSettings.retryMaxAttempts = 2;
axiosSettings.retryDefaultDelay = 1;
acme.axios.defaults.timeout = 30_000;
reportNetworkErrors();

export class AcmeIssuer {
  readonly #settings: AcmeSettings;
  readonly #store: CertificateStore;
  readonly #logger: Logger;
  #client: Promise<acme.Client> | null = null;

  constructor(settings: AcmeSettings, store: CertificateStore, logger: Logger) {
    this.#settings = settings;
    this.#store = store;
    this.#logger = logger;
    acme.setLogger((message) => logger.debug({ acme: true }, message));
  }

  /** Orders a certificate for `names`, trying the challenge types in this order of preference. */
  async issue(names: string[], challengeTypes: ChallengeType[], responder: ChallengeResponder): Promise<IssuedCertificate> {
    try {
      return await this.#issue(names, challengeTypes, responder);
    } catch (error) {
      // A CA that lost the account (a test CA restarted, an account deactivated): register again next time.
      if (/account/i.test((error as Error).message) && /not (found|exist)|does not exist|deactivated|unknown/i.test((error as Error).message)) {
        this.#client = null;
        this.#store.forgetAccount(this.#settings.directory);
      }
      throw error;
    }
  }

  async #issue(names: string[], challengeTypes: ChallengeType[], responder: ChallengeResponder): Promise<IssuedCertificate> {
    this.#useCaBundle();
    const client = await this.#account();
    const key = await acme.crypto.createPrivateEcdsaKey('P-256');
    // The common name is optional and limited to 64 characters; the names that count are the altNames.
    const commonName = names[0]!.length <= 64 ? names[0] : undefined;
    const [, csr] = await acme.crypto.createCsr({ commonName, altNames: names }, key);
    const presented = new Map<string, PresentedChallenge>();
    const certPem = await client.auto({
      csr,
      email: this.#settings.email ?? undefined,
      termsOfServiceAgreed: true,
      skipChallengeVerification: true,
      challengePriority: challengeTypes,
      challengeCreateFn: async (authz, challenge, keyAuthorization) => {
        const name = authz.identifier.value;
        const type = challenge.type as string;
        let answer: PresentedChallenge;
        if (type === 'http-01') answer = { type: 'http-01', name, token: challenge.token, keyAuthorization };
        else if (type === 'tls-alpn-01') {
          const [alpnKey, alpnCert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization);
          answer = { type: 'tls-alpn-01', name, certPem: alpnCert.toString(), keyPem: alpnKey.toString() };
        } else throw new Error(`the CA offered only ${type} for ${name}, which Kirin does not answer`);
        presented.set(challenge.url, answer);
        this.#logger.debug({ name, type }, 'answering ACME challenge');
        await responder.present(answer);
      },
      challengeRemoveFn: async (_authz, challenge) => {
        const answer = presented.get(challenge.url);
        presented.delete(challenge.url);
        if (answer) responder.withdraw(answer);
      },
    });
    return { certPem, keyPem: key.toString() };
  }

  /** The account for this directory: from the store, or registered now (and stored). */
  #account(): Promise<acme.Client> {
    this.#client ??= this.#loadAccount().catch((error: unknown) => {
      this.#client = null;
      throw error;
    });
    return this.#client;
  }

  async #loadAccount(): Promise<acme.Client> {
    const { directory, email } = this.#settings;
    const found = this.#store.readAccount(directory);
    if (found && 'unusable' in found) {
      this.#logger.warn({ directory, keptAs: found.keptAs }, `the stored ACME account cannot be used (${found.unusable}); registering a new one — the old file is kept as ${found.keptAs}`);
    }
    const stored = found && 'record' in found ? found.record : null;
    const options = { directoryUrl: directory, backoffAttempts: 12, backoffMin: 250, backoffMax: 10_000 };
    if (stored) {
      const client = new acme.Client({ ...options, accountKey: stored.keyPem, accountUrl: stored.url });
      if (stored.email !== email && email) {
        await client.updateAccount({ contact: [`mailto:${email}`] });
        this.#store.writeAccount({ ...stored, email });
      }
      return client;
    }
    const keyPem = (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
    const client = new acme.Client({ ...options, accountKey: keyPem });
    await client.createAccount({ termsOfServiceAgreed: true, ...(email ? { contact: [`mailto:${email}`] } : {}) });
    this.#store.writeAccount({ directory, url: client.getAccountUrl(), email, keyPem, createdAt: Date.now() });
    this.#logger.info({ directory, email }, `registered an ACME account with ${new URL(directory).host}`);
    return client;
  }

  #useCaBundle(): void {
    const bundle = this.#settings.caBundle;
    // keepAlive off: an idle pooled socket must not keep a stopping master alive.
    acme.axios.defaults.httpsAgent = bundle ? new Agent({ keepAlive: false, ca: [...rootCertificates, readFileSync(bundle, 'utf8')] }) : new Agent({ keepAlive: false });
  }
}

/**
 * acme-client 5.4 turns a network error whose retries are spent (connection
 * refused, DNS, timeout) into "Cannot read properties of undefined (reading
 * 'config')" (publishlab/node-acme-client#101), which tells a user nothing.
 * This handler runs before acme-client's own: once its retries are spent, it
 * passes the real error on without `config`, which acme-client lets through.
 */
function reportNetworkErrors(): void {
  type AxiosLikeError = Error & { code?: string; response?: unknown; config?: { url?: string; retryAttempt?: number } };
  const handlers = (acme.axios.interceptors.response as unknown as { handlers: unknown[] }).handlers;
  handlers.unshift({
    fulfilled: null,
    synchronous: false,
    runWhen: null,
    rejected: (error: AxiosLikeError) => {
      if (error?.response || !error?.config || (error.config.retryAttempt ?? 0) < axiosSettings.retryMaxAttempts) return Promise.reject(error);
      const plain = new Error(`cannot reach ${error.config.url ?? 'the ACME server'}: ${error.message}`) as Error & { code?: string };
      plain.code = error.code;
      return Promise.reject(plain);
    },
  });
}
