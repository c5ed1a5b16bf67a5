/**
 * Files that hold keys: folders 0700, files 0600, and every write atomic
 * (a temporary file in the same folder, flushed, then renamed over the old
 * one), so a crash or a reader never sees half a key or half a certificate.
 */
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, relative, sep } from 'node:path';

/** Creates `dir` (and the folders between `base` and it) with mode 0700, tightening existing ones. */
export function ensurePrivateDir(base: string, dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let current = base;
  chmodSync(current, 0o700);
  for (const part of relative(base, dir).split(sep).filter(Boolean)) {
    current = join(current, part);
    chmodSync(current, 0o700);
  }
}

export function writePrivateFile(path: string, data: string | Buffer): void {
  const temp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(temp, 'wx', 0o600);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(temp, path);
  syncDir(dirname(path));
}

/** Makes the rename itself durable (a power cut right after it would otherwise lose it). */
function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some file systems refuse fsync on folders; the rename is still atomic.
  }
}
