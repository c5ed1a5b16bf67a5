/**
 * The TLS side of one worker process: the certificates it serves, the ACME
 * challenges it answers, and the session ticket keys it shares with every
 * other worker. All of it comes from the master (messages.ts); the worker
 * loads it, and swaps it without a restart when the master sends more.
 *
 * One per process (a worker hosts one pipeline); the https listeners and the
 * sites' middleware share it.
 */
import type { SecureContext, TLSSocket } from 'node:tls';
import type { NodeRequest, NodeResponse, PreRouting, WorkerServices } from '../worker/context.ts';
import { ContextRegistry } from './context-registry.ts';
import { TLS_MESSAGES, type ChallengeState, type TlsSnapshot, type WorkerCertificate } from './messages.ts';
import { ACME_TLS_ALPN } from './profile.ts';

export const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

/** Set on a socket whose handshake is a TLS-ALPN-01 validation: SNI then picks the challenge certificate. */
const kAcmeValidation = Symbol('kirin.acmeValidation');

type TicketKeyHolder = { setTicketKeys(keys: Buffer): void };

export class WorkerTls {
  readonly certificates = new ContextRegistry();
  readonly #alpnChallenges = new ContextRegistry();
  #http01 = new Map<string, string>();
  #ticketKeys: Buffer | null = null;
  readonly #servers = new Set<TicketKeyHolder>();
  #attached: Promise<void> | null = null;
  #isReady = false;
  #markReady!: () => void;
  /** Resolves once the master's snapshot is loaded. */
  readonly ready = new Promise<void>((resolve) => (this.#markReady = resolve));
  /** The port of the first https listener, for redirects. */
  httpsPort: number | null = null;

  get isReady(): boolean {
    return this.#isReady;
  }

  /** Subscribes to the master's pushes and loads its snapshot (once per process); answers HTTP-01 on `pipeline`. */
  attach(worker: WorkerServices, pipeline: PreRouting): Promise<void> {
    pipeline.beforeRoute = this.answerHttpChallenge;
    if (this.#attached) return this.#attached;
    worker.onPush(TLS_MESSAGES.certificate, (payload) => {
      const certificate = payload as WorkerCertificate;
      try {
        this.certificates.set(certificate);
      } catch (error) {
        // The master checks every pair before sending it; this worker keeps serving what it had.
        worker.logger.error({ err: error, names: certificate.names }, `could not load the certificate for ${certificate.names.join(', ')}`);
      }
    });
    worker.onPush(TLS_MESSAGES.certificateRemoved, (payload) => this.certificates.delete((payload as { id: string }).id));
    worker.onPush(TLS_MESSAGES.challenges, (payload) => {
      this.#applyChallenges(payload as ChallengeState);
      worker.notify(TLS_MESSAGES.challengesApplied, { version: (payload as ChallengeState).version });
    });
    worker.onPush(TLS_MESSAGES.ticketKeys, (payload) => this.#setTicketKeys(Buffer.from((payload as { keys: string }).keys, 'base64')));
    // Pushes that arrive before the answer are older than it (one ordered channel): the snapshot replaces them.
    this.#attached = worker.ask<TlsSnapshot>(TLS_MESSAGES.snapshot, {}).then((snapshot) => {
      for (const { id, error } of this.certificates.reset(snapshot.certificates)) worker.logger.error({ err: error, id }, `could not load the certificate for ${id}`);
      this.#applyChallenges(snapshot.challenges);
      this.#setTicketKeys(Buffer.from(snapshot.ticketKeys, 'base64'));
      this.#isReady = true;
      this.#markReady();
    });
    return this.#attached;
  }

  /** Keeps a server's session ticket keys in step with the master's (so any worker resumes any session). */
  addServer(server: TicketKeyHolder): void {
    this.#servers.add(server);
    if (this.#ticketKeys) server.setTicketKeys(this.#ticketKeys);
  }

  /** The pipeline's pre-routing hook: answers `/.well-known/acme-challenge/<token>` for tokens the master is validating. */
  readonly answerHttpChallenge = (req: NodeRequest, res: NodeResponse): boolean => {
    const url = req.url;
    if (url === undefined || !url.startsWith(ACME_CHALLENGE_PREFIX) || this.#http01.size === 0) return false;
    const query = url.indexOf('?');
    const token = url.slice(ACME_CHALLENGE_PREFIX.length, query === -1 ? undefined : query);
    const keyAuthorization = this.#http01.get(token);
    if (keyAuthorization === undefined) return false;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(keyAuthorization), 'cache-control': 'no-store' });
    res.end(keyAuthorization);
    return true;
  };

  /**
   * ALPN is chosen before the certificate (OpenSSL calls the ALPN callback
   * before Node's SNI callback), so a TLS-ALPN-01 validation is recognised
   * here and marked on the socket; `selectContext` then hands it the challenge
   * certificate instead of the site's.
   */
  chooseProtocol(socket: TLSSocket, servername: string, protocols: string[]): string | undefined {
    if (protocols.includes(ACME_TLS_ALPN)) {
      if (!servername || !this.#alpnChallenges.has(servername)) return undefined;
      (socket as TLSSocket & { [kAcmeValidation]?: boolean })[kAcmeValidation] = true;
      return ACME_TLS_ALPN;
    }
    if (protocols.includes('h2')) return 'h2';
    if (protocols.includes('http/1.1')) return 'http/1.1';
    return undefined;
  }

  /** The secure context for a handshake's SNI name, or undefined (no certificate: the handshake fails with an alert). */
  selectContext(socket: TLSSocket, servername: string): SecureContext | undefined {
    if ((socket as TLSSocket & { [kAcmeValidation]?: boolean })[kAcmeValidation] === true) return this.#alpnChallenges.lookup(servername);
    return this.certificates.lookup(servername);
  }

  #applyChallenges(state: ChallengeState): void {
    this.#http01 = new Map(Object.entries(state.http01));
    this.#alpnChallenges.reset(state.alpn);
  }

  #setTicketKeys(keys: Buffer): void {
    if (keys.length !== 48) return;
    this.#ticketKeys = keys;
    for (const server of this.#servers) server.setTicketKeys(keys);
  }
}

/** This process's TLS state. */
export const workerTls = new WorkerTls();
