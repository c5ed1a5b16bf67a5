/**
 * The master's certificate manager: one certificate per TLS site, from the
 * ACME CA ('auto'), Kirin's local CA ('local') or the user's files ('files').
 *
 *   reconcile(plan)  what the sites need; load what the store has; make local
 *                    certificates at once (no network); workers get them all
 *   start()          from then on (workers serve, so challenges can be
 *                    answered): order what is missing, renew what is due,
 *                    retry failures with backoff — each certificate on its own,
 *                    so one site's trouble never holds up another
 *   renew(name)      `kirin certs renew NAME`
 *
 * Every new or renewed certificate is written to the store, then pushed to the
 * workers, which swap it in for new handshakes without dropping a connection.
 */
import { readFileSync } from 'node:fs';
import type { ServePlan, TlsPlan } from '../config/plan.ts';
import type { CertificateStatus } from '../master/providers.ts';
import type { Logger } from '../observe/log.ts';
import type { ChallengeResponder, ChallengeType, IssuedCertificate } from './acme.ts';
import { describeCertificate, keyMatches, nameCovers } from './cert-info.ts';
import type { LocalCa } from './local-ca.ts';
import type { WorkerCertificate } from './messages.ts';
import { acquireLock } from './order-lock.ts';
import { challengeOrder, CHECK_INTERVAL_MS, formatDelay, LOCK_BUSY_DELAY_MS, renewAt, retryDelay, type ScheduleSettings } from './schedule.ts';
import type { CertificateMeta, CertificateSource, CertificateStore, StoredCertificate } from './store.ts';

export type SiteTlsMode = 'auto' | 'local' | 'files';

export interface WantedCertificate {
  /** The primary name: the site's first host. */
  id: string;
  names: string[];
  mode: SiteTlsMode;
  files: { cert: string; key: string } | null;
}

/** Gets a certificate from the ACME CA (acme.ts in production, a fake in unit tests). */
export interface AcmeOrderer {
  issue(names: string[], challengeTypes: ChallengeType[], responder: ChallengeResponder): Promise<IssuedCertificate>;
}

export interface ManagerHost {
  logger: Logger;
  /** Sends a message to every worker. */
  push(type: 'tls-certificate' | 'tls-certificate-removed', payload: unknown): void;
  /** Master events for alerts (src/master/events.ts). */
  emit(event: 'certificate-issued' | 'certificate-renewed' | 'certificate-failed', payload: unknown): void;
}

export interface ManagerOptions {
  host: ManagerHost;
  store: CertificateStore;
  localCa: LocalCa;
  /** Makes the ACME orderer for the plan's tls settings (again when they change on reload). */
  acme: (tls: TlsPlan) => AcmeOrderer;
  responder: ChallengeResponder;
  schedule: ScheduleSettings;
  now?: () => number;
}

interface Managed extends WantedCertificate {
  current: StoredCertificate | null;
  failures: number;
  nextAttemptAt: number;
  lastError: string | null;
  running: Promise<void> | null;
}

export class CertificateManager {
  readonly #options: ManagerOptions;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #managed = new Map<string, Managed>();
  #acme: AcmeOrderer | null = null;
  #acmeKey = '';
  #tls: TlsPlan | null = null;
  #hasHttpListener = true;
  #started = false;
  #stopped = false;
  #timer: NodeJS.Timeout | null = null;

  constructor(options: ManagerOptions) {
    this.#options = options;
    this.#logger = options.host.logger;
    this.#now = options.now ?? Date.now;
  }

  /** Brings the managed set in line with the plan's sites; local and file certificates are ready when it resolves. */
  async reconcile(plan: ServePlan): Promise<void> {
    this.#tls = plan.tls;
    this.#hasHttpListener = plan.listen.http.length > 0;
    const wanted = wantedCertificates(plan, this.#logger);
    const ids = new Set(wanted.map((w) => w.id));
    for (const [id, managed] of this.#managed) {
      if (ids.has(id)) continue;
      this.#managed.delete(id);
      this.#options.host.push('tls-certificate-removed', { id });
    }
    const local: Managed[] = [];
    for (const want of wanted) {
      let managed = this.#managed.get(want.id);
      if (!managed || managed.mode !== want.mode || JSON.stringify(managed.files) !== JSON.stringify(want.files)) {
        managed = { ...want, current: null, failures: 0, nextAttemptAt: this.#now(), lastError: null, running: null };
        this.#managed.set(want.id, managed);
        await this.#load(managed);
      } else if (managed.mode === 'files') {
        // A reload is how new files are taken in: read them again.
        managed.names = want.names;
        this.#loadFiles(managed);
      } else if (managed.names.join() !== want.names.join()) {
        managed.names = want.names;
        if (!this.#covers(managed.current, managed.names)) managed.nextAttemptAt = this.#now();
        this.#publish(managed);
      }
      if (managed.mode === 'local' && managed.running === null && this.#now() >= managed.nextAttemptAt) local.push(managed);
    }
    // Local certificates cost no network: make them now, so a site is served from the first request.
    await Promise.all(local.map((m) => this.#attempt(m)));
    this.#schedule();
  }

  /** Starts ordering and renewing (call once the workers serve). */
  start(): void {
    this.#started = true;
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** True while an order is in progress. */
  get busy(): boolean {
    return [...this.#managed.values()].some((m) => m.running !== null);
  }

  /** What every worker should load now. */
  snapshot(): WorkerCertificate[] {
    const out: WorkerCertificate[] = [];
    for (const managed of this.#managed.values()) {
      const certificate = this.#forWorkers(managed);
      if (certificate) out.push(certificate);
    }
    return out;
  }

  status(): CertificateStatus[] {
    return [...this.#managed.values()].map((m) => this.#statusOf(m));
  }

  /** Renews the certificate that covers `name` now, and resolves with its status once done (or failed). */
  async renew(name: string): Promise<CertificateStatus> {
    const wanted = name.toLowerCase();
    const managed = [...this.#managed.values()].find((m) => m.id === wanted || m.names.includes(wanted));
    if (!managed) throw new Error(`no TLS site has the name ${name}; kirin certs lists the certificates`);
    if (managed.mode === 'files') throw new Error(`the certificate for ${managed.names.join(', ')} comes from files; replace them and run kirin reload`);
    if (managed.running) await managed.running;
    managed.nextAttemptAt = this.#now();
    await this.#attempt(managed, true);
    return this.#statusOf(managed);
  }

  // ── internals ───────────────────────────────────────────────────────────

  #statusOf(m: Managed): CertificateStatus {
    const meta = m.current?.meta ?? null;
    let state: CertificateStatus['state'];
    if (m.running) state = 'pending';
    else if (meta && meta.notAfter <= this.#now()) state = 'expired';
    else if (m.lastError) state = 'failed';
    else state = meta ? 'valid' : 'pending';
    return {
      names: m.names,
      source: sourceOf(m.mode),
      issuer: meta?.issuer ?? '',
      notBefore: meta?.notBefore ?? 0,
      notAfter: meta?.notAfter ?? 0,
      renewAt: m.mode === 'files' ? null : m.nextAttemptAt,
      state,
      lastError: m.lastError,
    };
  }

  async #load(managed: Managed): Promise<void> {
    if (managed.mode === 'files') {
      this.#loadFiles(managed);
      return;
    }
    const found = this.#options.store.inspectCertificate(managed.id);
    if (found === null) return;
    const names = managed.names.join(', ');
    const replacement = managed.mode === 'local' ? 'issuing a new one from the local CA' : `obtaining a new one from the ACME CA ${caName(this.#tls)}`;
    // Never replaced in silence: a folder someone damaged or restored from a backup says so in the log.
    if ('unusable' in found) {
      this.#logger.warn({ names: managed.names, problem: found.unusable }, `the stored certificate for ${names} cannot be used: ${found.unusable}; ${replacement} to replace it`);
      return;
    }
    const stored = found.stored;
    const unsuitable = await this.#unsuitable(managed, stored);
    if (unsuitable !== null) {
      this.#logger.info({ names: managed.names, problem: unsuitable }, `the stored certificate for ${names} is not served: ${unsuitable}; ${replacement} to replace it`);
      return;
    }
    managed.current = stored;
    managed.nextAttemptAt = this.#covers(stored, managed.names) ? stored.meta.renewAt : this.#now();
    this.#publish(managed);
  }

  /** Why a stored certificate is not served, or null: it must be this mode's, not expired, and (for local) chain to the current root. */
  async #unsuitable(managed: Managed, stored: StoredCertificate): Promise<string | null> {
    const source = sourceOf(managed.mode);
    if (stored.meta.source !== source) return `it came from ${stored.meta.source}, the site now uses ${source}`;
    if (stored.meta.notAfter <= this.#now()) return `it expired on ${new Date(stored.meta.notAfter).toISOString()}`;
    if (managed.mode === 'local' && !(await this.#options.localCa.issued(stored.certPem))) return 'it was not issued under the current local CA root';
    if (managed.mode === 'auto' && stored.meta.acmeDirectory !== null && stored.meta.acmeDirectory !== this.#tls?.acmeDirectory) return `it came from ${stored.meta.acmeDirectory}, the site now uses ${this.#tls?.acmeDirectory}`;
    stored.meta.renewAt = renewAt(stored.meta, this.#options.schedule);
    return null;
  }

  #loadFiles(managed: Managed): void {
    const files = managed.files!;
    try {
      const certPem = readFileSync(files.cert, 'utf8');
      const keyPem = readFileSync(files.key, 'utf8');
      if (!keyMatches(certPem, keyPem)) throw new Error(`${files.key} is not the private key of ${files.cert}`);
      const facts = describeCertificate(certPem);
      managed.current = { certPem, keyPem, meta: metaFor(facts, 'files', this.#now(), null, facts.notAfter) };
      managed.lastError = null;
      const missing = managed.names.filter((n) => !facts.names.some((c) => nameCovers(c, n)));
      if (missing.length) this.#logger.warn({ cert: files.cert, missing }, `${files.cert} does not cover ${missing.join(', ')}; browsers will refuse it for those names`);
      if (facts.notAfter <= this.#now()) this.#logger.error({ cert: files.cert }, `${files.cert} expired on ${new Date(facts.notAfter).toISOString()}; replace it and run kirin reload`);
      this.#publish(managed);
    } catch (error) {
      managed.lastError = `cannot use the certificate files: ${(error as Error).message}`;
      this.#logger.error({ cert: files.cert, key: files.key }, `site ${managed.names.join(', ')}: ${managed.lastError}`);
      this.#options.host.emit('certificate-failed', { names: managed.names, error: managed.lastError, failures: 1, retryAt: null });
    }
  }

  #forWorkers(managed: Managed): WorkerCertificate | null {
    const current = managed.current;
    if (!current) return null;
    // Until a reissue catches up with new names, serve the certificate only for the names it covers.
    const names = managed.mode === 'files' ? managed.names : managed.names.filter((n) => current.meta.names.some((c) => nameCovers(c, n)));
    return { id: managed.id, names, certPem: current.certPem, keyPem: current.keyPem };
  }

  #publish(managed: Managed): void {
    const certificate = this.#forWorkers(managed);
    if (certificate) this.#options.host.push('tls-certificate', certificate);
  }

  #covers(stored: StoredCertificate | null, names: string[]): boolean {
    return stored !== null && names.every((n) => stored.meta.names.some((c) => nameCovers(c, n)));
  }

  #schedule(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (!this.#started || this.#stopped) return;
    const now = this.#now();
    let next = now + CHECK_INTERVAL_MS;
    for (const managed of this.#managed.values()) {
      if (managed.mode !== 'files' && managed.running === null) next = Math.min(next, managed.nextAttemptAt);
    }
    this.#timer = setTimeout(() => this.#runDue(), Math.max(0, next - now));
    this.#timer.unref();
  }

  #runDue(): void {
    const now = this.#now();
    for (const managed of this.#managed.values()) {
      if (managed.mode !== 'files' && managed.running === null && now >= managed.nextAttemptAt) void this.#attempt(managed);
    }
    this.#schedule();
  }

  /** One try at obtaining or renewing; never throws (failures are recorded, logged, retried). */
  #attempt(managed: Managed, forced = false): Promise<void> {
    const run = this.#order(managed, forced).finally(() => {
      managed.running = null;
      this.#schedule();
    });
    managed.running = run;
    return run;
  }

  async #order(managed: Managed, forced: boolean): Promise<void> {
    const store = this.#options.store;
    const lock = acquireLock(store.lockFile(managed.id), store.root, this.#now());
    if ('heldBy' in lock) {
      this.#logger.info({ names: managed.names }, `another order for ${managed.names.join(', ')} is in progress (${lock.heldBy}); looking again in ${formatDelay(LOCK_BUSY_DELAY_MS)}`);
      managed.nextAttemptAt = this.#now() + LOCK_BUSY_DELAY_MS;
      return;
    }
    const renewing = managed.current !== null;
    const source = sourceOf(managed.mode);
    try {
      // Another Kirin sharing this storage may have renewed it meanwhile.
      const fresher = forced ? null : store.readCertificate(managed.id);
      if (fresher && (await this.#unsuitable(managed, fresher)) === null && this.#covers(fresher, managed.names) && this.#now() < fresher.meta.renewAt && fresher.meta.serial !== managed.current?.meta.serial) {
        this.#adopt(managed, fresher);
        this.#logger.info({ names: managed.names }, `loaded the certificate for ${managed.names.join(', ')} that another process renewed`);
        return;
      }
      const names = managed.names;
      const challenges = challengeOrder(this.#hasHttpListener, managed.failures);
      if (managed.mode === 'auto') {
        this.#logger.info({ names, challenges, directory: this.#tls?.acmeDirectory }, `${renewing ? 'renewing' : 'obtaining'} a certificate for ${names.join(', ')} from the ACME CA ${caName(this.#tls)} (${challenges[0]})`);
      }
      const issued = managed.mode === 'local' ? await this.#options.localCa.issue(names) : await this.#orderer().issue(names, challenges, this.#options.responder);
      const facts = describeCertificate(issued.certPem);
      const issuedAt = this.#now();
      const meta = metaFor(facts, source, issuedAt, managed.mode === 'auto' ? (this.#tls?.acmeDirectory ?? null) : null, 0);
      meta.renewAt = renewAt(meta, this.#options.schedule);
      const stored: StoredCertificate = { certPem: issued.certPem, keyPem: issued.keyPem, meta };
      store.writeCertificate(managed.id, stored);
      this.#adopt(managed, stored);
      const event = renewing ? 'certificate-renewed' : 'certificate-issued';
      this.#options.host.emit(event, { names, source, issuer: facts.issuer, notAfter: facts.notAfter, serial: facts.serial });
      const level = managed.mode === 'local' && renewing ? 'debug' : 'info';
      const hint = managed.mode === 'local' ? `; browsers trust it once the local CA is trusted (kirin trust)` : '';
      this.#logger[level](
        { names, issuer: facts.issuer, notAfter: new Date(facts.notAfter).toISOString(), renewAt: new Date(meta.renewAt).toISOString(), serial: facts.serial },
        `certificate for ${names.join(', ')} ${renewing ? 'renewed' : 'obtained'} from ${facts.issuer}, valid until ${new Date(facts.notAfter).toISOString()}${hint}`,
      );
    } catch (error) {
      managed.failures++;
      const delay = retryDelay(managed.failures, this.#options.schedule);
      managed.nextAttemptAt = this.#now() + delay;
      managed.lastError = errorText(error);
      this.#logger.error(
        { names: managed.names, failures: managed.failures, retryInMs: delay, error: managed.lastError },
        `could not ${renewing ? 'renew' : 'obtain'} the certificate for ${managed.names.join(', ')}${managed.mode === 'auto' ? ` from the ACME CA ${caName(this.#tls)}` : ''} (attempt ${managed.failures}): ${managed.lastError}; retrying in ${formatDelay(delay)}${renewing ? ', the current certificate stays in use' : ''}`,
      );
      this.#options.host.emit('certificate-failed', {
        names: managed.names,
        error: managed.lastError,
        failures: managed.failures,
        retryAt: managed.nextAttemptAt,
        notAfter: managed.current?.meta.notAfter ?? null,
      });
    } finally {
      lock.release();
    }
  }

  #adopt(managed: Managed, stored: StoredCertificate): void {
    managed.current = stored;
    managed.failures = 0;
    managed.lastError = null;
    managed.nextAttemptAt = stored.meta.renewAt;
    this.#publish(managed);
  }

  #orderer(): AcmeOrderer {
    const tls = this.#tls!;
    const key = JSON.stringify([tls.acmeDirectory, tls.email, tls.caBundle]);
    if (!this.#acme || key !== this.#acmeKey) {
      this.#acme = this.#options.acme(tls);
      this.#acmeKey = key;
    }
    return this.#acme;
  }
}

/** One certificate per site that has TLS: its names, minus what this mode cannot cover. */
export function wantedCertificates(plan: ServePlan, logger: Logger): WantedCertificate[] {
  const out: WantedCertificate[] = [];
  // Nothing would serve them (systemd passed only plain sockets).
  if (plan.listen.https.length === 0) return out;
  for (const site of plan.sites) {
    if (site.tls.mode === 'off') continue;
    let names = site.hosts.filter((h) => h !== '*');
    if (site.tls.mode === 'auto') {
      const wildcards = names.filter((n) => n.startsWith('*.'));
      if (wildcards.length > 0) {
        logger.error(
          { site: site.key, names: wildcards },
          `site "${site.key}": ${wildcards.join(', ')} needs a DNS-01 challenge, which Kirin does not do; list the names one by one, or give tls: { cert, key } files`,
        );
        names = names.filter((n) => !n.startsWith('*.'));
      }
    }
    if (names.length === 0) continue;
    out.push({ id: names[0]!, names, mode: site.tls.mode, files: site.tls.mode === 'files' ? { cert: site.tls.cert, key: site.tls.key } : null });
  }
  return out;
}

function metaFor(facts: ReturnType<typeof describeCertificate>, source: CertificateSource, issuedAt: number, acmeDirectory: string | null, renewAtMs: number): CertificateMeta {
  return {
    names: facts.names,
    source,
    issuer: facts.issuer,
    notBefore: facts.notBefore,
    notAfter: facts.notAfter,
    renewAt: renewAtMs,
    serial: facts.serial,
    fingerprint256: facts.fingerprint256,
    issuedAt,
    acmeDirectory,
  };
}

function sourceOf(mode: SiteTlsMode): CertificateSource {
  return mode === 'auto' ? 'acme' : mode;
}

function caName(tls: TlsPlan | null): string {
  return tls ? new URL(tls.acmeDirectory).host : '(no directory)';
}

/** The CA's own words when it sent a problem document; the network error otherwise. */
function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  const message = error.message || code || 'unknown error';
  return code && !message.includes(code) ? `${message} (${code})` : message;
}
