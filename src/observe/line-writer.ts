/**
 * Buffered, asynchronous line output for the access log.
 *
 * Lines are appended to one string and written with one fs.write once 64 KiB
 * have gathered (or a timer fires), so a busy worker pays a string append per
 * request — about a tenth of a microsecond — instead of a stream write. While a
 * write is in flight, lines keep gathering; if the destination stops taking
 * data (a stuck pipe), the buffer stops growing at 8 MiB and lines are counted
 * as dropped instead of eating the worker's memory.
 */
import { closeSync, mkdirSync, openSync, write, writeSync } from 'node:fs';
import { dirname } from 'node:path';

const FLUSH_AT = 64 * 1024;
const MAX_PENDING = 8 * 1024 * 1024;
const RETRY_MS = 10;

export class LineWriter {
  readonly #path: string | null;
  #fd: number;
  #pending = '';
  #writing = false;
  #reopenWanted = false;
  /** Lines thrown away because the destination did not keep up. */
  dropped = 0;

  /** `target` is a file path (appended to, created with its folder) or a descriptor such as 1. */
  constructor(target: string | number) {
    if (typeof target === 'number') {
      this.#path = null;
      this.#fd = target;
    } else {
      this.#path = target;
      this.#fd = openForAppend(target);
    }
  }

  write(line: string): void {
    if (this.#pending.length > MAX_PENDING) {
      this.dropped++;
      return;
    }
    this.#pending += line;
    if (this.#pending.length >= FLUSH_AT) this.flush();
  }

  /** Starts writing what has gathered, unless a write is already under way. */
  flush(): void {
    if (this.#writing || this.#pending === '') return;
    const data = Buffer.from(this.#pending, 'utf8');
    this.#pending = '';
    this.#writing = true;
    this.#send(data, 0);
  }

  #send(data: Buffer, offset: number): void {
    write(this.#fd, data, offset, data.length - offset, null, (error, written) => {
      if (error) {
        // A non-blocking pipe that is full: try again shortly. Anything else: this chunk is lost, the worker lives on.
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
          setTimeout(() => this.#send(data, offset), RETRY_MS).unref();
          return;
        }
        this.#done();
        return;
      }
      if (offset + written < data.length) this.#send(data, offset + written);
      else this.#done();
    });
  }

  #done(): void {
    this.#writing = false;
    if (this.#reopenWanted) this.#reopenNow();
    if (this.#pending.length >= FLUSH_AT) this.flush();
  }

  /** Opens the file again (after logrotate moved it); descriptors are left alone. */
  reopen(): void {
    if (this.#path === null) return;
    if (this.#writing) this.#reopenWanted = true;
    else this.#reopenNow();
  }

  #reopenNow(): void {
    this.#reopenWanted = false;
    const old = this.#fd;
    this.#fd = openForAppend(this.#path!);
    closeSync(old);
  }

  /** Writes everything left, synchronously (at exit). */
  close(): void {
    let data = Buffer.from(this.#pending, 'utf8');
    this.#pending = '';
    for (let attempts = 0; data.length > 0 && attempts < 1000; attempts++) {
      try {
        data = data.subarray(writeSync(this.#fd, data));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') break;
      }
    }
    if (this.#path !== null) closeSync(this.#fd);
  }
}

function openForAppend(path: string): number {
  mkdirSync(dirname(path), { recursive: true });
  return openSync(path, 'a', 0o640);
}
