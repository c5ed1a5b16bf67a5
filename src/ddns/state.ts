/**
 * What was sent, kept in `<stateDir>/ddns/state.json` (0600) across restarts:
 * per name and record type the address last accepted, when and where to, and
 * the provider's last answer. Updates go out only when the address differs
 * from what was accepted — or the acceptance is 30 days old, because some
 * services expire names that never hear from their client. Sending unchanged
 * addresses is what gets clients blocked (dyndns2's "nochg" is abuse).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir, writePrivateFile } from '../tls/private-files.ts';
import type { UpdateStatus } from './providers/provider.ts';

export const REFRESH_AFTER_MS = 30 * 86_400_000;

export type RecordType = 'A' | 'AAAA';

export interface SentRecord {
  address: string;
  sentAt: number;
  /** The provider and its target: a record sent elsewhere does not count. */
  target: string;
}

export interface LastAnswer {
  at: number;
  status: UpdateStatus;
  code: string;
  message: string;
}

export interface NameState {
  records: Partial<Record<RecordType, SentRecord>>;
  last: LastAnswer | null;
  lastSuccessAt: number | null;
}

/** A refusal that retrying cannot fix; `kirin ddns update --once` honours it until --force. */
export interface StoppedState {
  at: number;
  target: string;
  code: string;
  message: string;
}

interface StateFile {
  version: 1;
  names: Record<string, NameState>;
  stopped: StoppedState | null;
}

export class DdnsState {
  readonly #dir: string;
  readonly #base: string;
  #data: StateFile;

  constructor(stateDir: string) {
    this.#base = stateDir;
    this.#dir = join(stateDir, 'ddns');
    this.#data = read(join(this.#dir, 'state.json'));
  }

  get path(): string {
    return join(this.#dir, 'state.json');
  }

  name(name: string): NameState {
    return this.#data.names[name] ?? { records: {}, last: null, lastSuccessAt: null };
  }

  /** True when `address` must be sent for `name`: never accepted by this target, a different address, or a stale acceptance. */
  needsUpdate(name: string, type: RecordType, address: string, target: string, now: number): boolean {
    const sent = this.name(name).records[type];
    return !sent || sent.address !== address || sent.target !== target || now - sent.sentAt >= REFRESH_AFTER_MS;
  }

  recordAnswer(name: string, answer: LastAnswer, accepted: { type: RecordType; address: string; target: string }[]): void {
    const state = this.name(name);
    const records = { ...state.records };
    for (const record of accepted) records[record.type] = { address: record.address, sentAt: answer.at, target: record.target };
    this.#data.names[name] = { records, last: answer, lastSuccessAt: answer.status === 'updated' ? answer.at : state.lastSuccessAt };
  }

  get stopped(): StoppedState | null {
    return this.#data.stopped;
  }

  set stopped(value: StoppedState | null) {
    this.#data.stopped = value;
  }

  save(): void {
    ensurePrivateDir(this.#base, this.#dir);
    writePrivateFile(this.path, `${JSON.stringify(this.#data, null, 2)}\n`);
  }
}

function read(path: string): StateFile {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<StateFile>;
    if (parsed.version === 1 && typeof parsed.names === 'object' && parsed.names !== null) return { version: 1, names: parsed.names, stopped: parsed.stopped ?? null };
  } catch {
    // Missing (first run) or unreadable: start empty; the next update rewrites it.
  }
  return { version: 1, names: {}, stopped: null };
}
