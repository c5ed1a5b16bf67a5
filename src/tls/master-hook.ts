/**
 * Wires the certificate manager into the master: answers the workers'
 * snapshot request, pushes certificates, challenges and ticket keys to them,
 * follows reloads, publishes certificate facts (providers) and events (alerts),
 * and adds `certs` to the control socket.
 *
 * Nothing here holds up start-up: local and file certificates are loaded
 * before the first worker is ready (no network), ACME orders start once the
 * workers serve (they answer the challenges), each in the background.
 */
import type { TlsPlan } from '../config/plan.ts';
import type { Master } from '../master/master.ts';
import type { Logger } from '../observe/log.ts';
import { ChallengeBoard } from './challenge-board.ts';
import { LocalCa } from './local-ca.ts';
import { CertificateManager, type AcmeOrderer } from './manager.ts';
import { TLS_MESSAGES, type TlsSnapshot } from './messages.ts';
import { scheduleSettingsFromEnv } from './schedule.ts';
import { CertificateStore } from './store.ts';
import { TicketKeys } from './ticket-keys.ts';

/** A stop does not wait for a CA that is slow to answer: an order still running this long after the master stopped is abandoned (its lock is taken over at the next start). */
const ABANDON_ORDER_MS = 2000;

export function attachCertificates(master: Master): CertificateManager {
  const logger = master.logger.child({ part: 'tls' });
  const storage = master.plan.tls.storage;
  const store = new CertificateStore(storage);
  const board = new ChallengeBoard({
    publish: (state) => master.broadcast(TLS_MESSAGES.challenges, state),
    readyWorkers: () => master.status().workers.filter((w) => w.state === 'ready').map((w) => w.pid),
  });
  const manager = new CertificateManager({
    host: { logger, push: (type, payload) => master.broadcast(type, payload), emit: (event, payload) => master.emit(event, payload) },
    store,
    localCa: new LocalCa(storage, Date.now, logger),
    acme: (tls) => lazyAcme(tls, store, logger),
    responder: board,
    schedule: scheduleSettingsFromEnv(process.env),
  });
  const tickets = new TicketKeys();
  tickets.start((keys) => master.broadcast(TLS_MESSAGES.ticketKeys, { keys }));

  const initial = manager.reconcile(master.plan).catch((error: unknown) => logger.error({ err: error }, 'loading certificates failed'));
  master.onAsk(TLS_MESSAGES.snapshot, async (): Promise<TlsSnapshot> => {
    await initial;
    return { certificates: manager.snapshot(), challenges: board.state(), ticketKeys: tickets.current };
  });
  master.on(`worker-event:${TLS_MESSAGES.challengesApplied}`, (worker, payload) => {
    const version = (payload as { version?: unknown } | null)?.version;
    if (typeof version === 'number') board.acknowledge(worker.pid, version);
  });
  master.on('reload', (ok: boolean) => {
    if (ok) manager.reconcile(master.plan).catch((error: unknown) => logger.error({ err: error }, 'updating certificates after the reload failed'));
  });
  master.providers.certificates = () => manager.status();
  // The control socket exists once the master is starting.
  master.once('starting', () => master.control?.register('certs', (args) => (typeof args.renew === 'string' ? manager.renew(args.renew) : manager.status())));

  // ACME needs the workers to answer challenges: start ordering once they serve.
  master.once('booted', () => void initial.then(() => manager.start()));
  master.once('finishing', () => {
    manager.stop();
    tickets.stop();
  });
  master.once('stopped', () => {
    // Only fires if the order is all that keeps the process alive (the timer does not).
    if (manager.busy) setTimeout(() => process.exit(), ABANDON_ORDER_MS).unref();
  });
  return manager;
}

/** acme-client (with axios and node-forge) is loaded by the first order: a master with no ACME site never loads it. */
function lazyAcme(tls: TlsPlan, store: CertificateStore, logger: Logger): AcmeOrderer {
  let issuer: Promise<AcmeOrderer> | null = null;
  return {
    async issue(names, challenges, responder) {
      issuer ??= import('./acme.ts').then(({ AcmeIssuer }) => new AcmeIssuer({ directory: tls.acmeDirectory, email: tls.email, caBundle: tls.caBundle }, store, logger));
      return (await issuer).issue(names, challenges, responder);
    },
  };
}
