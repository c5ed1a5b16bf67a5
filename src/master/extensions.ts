/**
 * The parts of the master beyond supervision, attached at start: the admin
 * listener (health, metrics, dashboard), certificates, alerts. Each gets the
 * master's events and status; none of them is on the request path.
 */
import type { Master } from './master.ts';

export function attachMasterExtensions(_master: Master): void {}
