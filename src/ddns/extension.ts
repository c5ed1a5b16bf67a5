/**
 * DDNS as a master extension: the client runs in the master (never in a
 * worker), starts once the master is starting and checks in the background,
 * follows reloads, answers `kirin ddns` on the control socket, publishes its
 * status for metrics and the dashboard, and tells the alerts when updating
 * had to stop. A start or a reload is the user's intervention: it clears an
 * earlier stop and tries again.
 */
import type { Master } from '../master/master.ts';
import { DDNS_STOPPED_EVENT, type DdnsStoppedInfo } from './incident.ts';
import type { DdnsUpdater } from './updater.ts';

/** Control command: `{}` → status, `{ update: true, force? }` → one pass now and its report. */
export const DDNS_COMMAND = 'ddns';

export function attachDdns(master: Master): void {
  const logger = master.logger.child({ part: 'ddns' });
  let updater: DdnsUpdater | null = null;
  /** Bumped by every start, reload and stop: a load that finishes after a newer one began is dropped. */
  let generation = 0;
  let begun: Promise<void> = Promise.resolve();
  const failed = (error: unknown): void => logger.error({ err: error }, 'ddns: could not start the updater');

  const begin = async (): Promise<void> => {
    const mine = ++generation;
    const plan = master.plan.ddns;
    updater?.stop();
    updater = null;
    if (!plan) return;
    const { credentialReader, createProvider, DdnsState, DdnsUpdater } = await loadUpdaterParts();
    if (mine !== generation) return;
    const provider = createProvider(plan.provider, credentialReader(master.plan.envFiles));
    updater = new DdnsUpdater({
      plan,
      provider,
      state: new DdnsState(master.plan.stateDir),
      logger,
      onStop: (stopped, results) => {
        const info: DdnsStoppedInfo = { provider: provider.kind, target: provider.target, code: stopped.code, message: stopped.message, names: results.filter((r) => r.status === 'stop').map((r) => r.name) };
        master.emit(DDNS_STOPPED_EVENT, info);
      },
    });
    updater.clearStop();
    logger.info(`ddns: keeping ${plan.names.join(', ')} pointed at this machine through ${provider.kind} (${provider.target}), checking every ${plan.intervalMs / 60_000} min`);
    updater.start();
  };

  master.providers.ddns = () => updater?.status() ?? null;
  master.once('starting', () => {
    master.control?.register(DDNS_COMMAND, async (args) => {
      await begun;
      if (!updater) throw new Error('ddns is not configured: add a ddns section to the config (docs/ddns.md)');
      if (args.update === true) return updater.check({ force: args.force === true });
      return updater.status();
    });
    begun = begin().catch(failed);
  });
  master.on('reload', (ok: boolean) => {
    // Credentials may have changed in the env files even when the plan did not: start over.
    if (ok) begun = begin().catch(failed);
  });
  master.once('finishing', () => {
    generation++;
    updater?.stop();
    updater = null;
  });
}

/**
 * The updater, its providers and their clients (undici, dns-packet: about 13 MB
 * of the master's memory) load only when the config has a ddns section.
 */
async function loadUpdaterParts() {
  const [credentials, providers, state, updater] = await Promise.all([import('./credentials.ts'), import('./providers/index.ts'), import('./state.ts'), import('./updater.ts')]);
  return { credentialReader: credentials.credentialReader, createProvider: providers.createProvider, DdnsState: state.DdnsState, DdnsUpdater: updater.DdnsUpdater };
}
