/**
 * DDNS as a master extension: the client runs in the master (never in a
 * worker), starts once the master is starting and checks in the background,
 * follows reloads, answers `kirin ddns` on the control socket, publishes its
 * status for metrics and the dashboard, and tells the alerts when updating
 * had to stop. A start or a reload is the user's intervention: it clears an
 * earlier stop and tries again.
 */
import type { Master } from '../master/master.ts';
import { credentialReader } from './credentials.ts';
import { DDNS_STOPPED_EVENT, type DdnsStoppedInfo } from './incident.ts';
import { createProvider } from './providers/index.ts';
import { DdnsState } from './state.ts';
import { DdnsUpdater } from './updater.ts';

/** Control command: `{}` → status, `{ update: true, force? }` → one pass now and its report. */
export const DDNS_COMMAND = 'ddns';

export function attachDdns(master: Master): void {
  const logger = master.logger.child({ part: 'ddns' });
  let updater: DdnsUpdater | null = null;

  const begin = (): void => {
    const plan = master.plan.ddns;
    updater?.stop();
    updater = null;
    if (!plan) return;
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
      if (!updater) throw new Error('ddns is not configured: add a ddns section to the config (docs/ddns.md)');
      if (args.update === true) return updater.check({ force: args.force === true });
      return updater.status();
    });
    begin();
  });
  master.on('reload', (ok: boolean) => {
    // Credentials may have changed in the env files even when the plan did not: start over.
    if (ok) begin();
  });
  master.once('finishing', () => {
    updater?.stop();
    updater = null;
  });
}
