/**
 * The folders on a host (Capistrano's layout, which Deployer and friends share):
 *
 *   <path>/current -> releases/<id>     the release Kirin serves, switched by rename
 *   <path>/releases/<id>/               one folder per release, complete before it appears
 *   <path>/shared/                      paths that live across releases, and env/<id>
 *   <path>/.kirin/incoming/<id>/        a release being uploaded and installed
 *   <path>/.kirin/lock/                 the deploy lock
 *   <path>/.kirin/kirin.pid, kirin.log  Kirin started without systemd
 */

export const RELEASE_INFO = '.kirin-release.json';

export class HostLayout {
  readonly root: string;
  constructor(root: string) {
    this.root = root;
  }
  get current(): string {
    return `${this.root}/current`;
  }
  get releases(): string {
    return `${this.root}/releases`;
  }
  release(id: string): string {
    return `${this.releases}/${id}`;
  }
  get shared(): string {
    return `${this.root}/shared`;
  }
  /** The env file a release was deployed with (the release's .env points here). */
  envFile(id: string): string {
    return `${this.shared}/env/${id}`;
  }
  get kirinDir(): string {
    return `${this.root}/.kirin`;
  }
  incoming(id: string): string {
    return `${this.kirinDir}/incoming/${id}`;
  }
  get lock(): string {
    return `${this.kirinDir}/lock`;
  }
  get pidFile(): string {
    return `${this.kirinDir}/kirin.pid`;
  }
  get logFile(): string {
    return `${this.kirinDir}/kirin.log`;
  }
  /** The config file as the running Kirin reads it: through `current`, so a reload sees the new release. */
  config(configName: string): string {
    return `${this.current}/${configName}`;
  }
  /** The Kirin command of the current release (the app depends on kirin). */
  get kirinBin(): string {
    return `${this.current}/node_modules/kirin/dist/cli/bin.js`;
  }
}

/** Release ids sort in time order: 20261204-172500-123 (UTC, milliseconds). */
export function newReleaseId(now = new Date()): string {
  const iso = now.toISOString();
  return `${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}-${iso.slice(20, 23)}`;
}

export const RELEASE_ID = /^\d{8}-\d{6}-\d{3}$/;

/** What a release records about itself (`kirin releases` shows it). */
export interface ReleaseInfo {
  id: string;
  commit: string | null;
  /** Uncommitted changes were deployed too. */
  dirty: boolean;
  deployedAt: string;
  deployedBy: string;
  kirinVersion: string;
  /**
   * When it first passed the health gate as the current release; null while
   * it never has (its deploy failed or died after it took its place among
   * releases/: a rollback does not pick it by itself). Absent in releases
   * recorded before Kirin kept this: taken as served.
   */
  servedAt?: string | null;
}
