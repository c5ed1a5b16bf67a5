/**
 * Calls `onLine` for each line a text stream produces (without the newline; a
 * last line without one when the stream ends). Used wherever Kirin or its
 * tests read another process's output.
 *
 * `maxLength` bounds what is held: a longer run without a newline goes out in
 * pieces of that length, so a program that never writes one cannot grow the
 * reader's memory.
 */
import type { Readable } from 'node:stream';

export function forEachLine(stream: Readable, onLine: (line: string) => void, options: { maxLength?: number } = {}): void {
  const maxLength = options.maxLength ?? Infinity;
  let buffer = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      onLine(line);
    }
    while (buffer.length > maxLength) {
      onLine(buffer.slice(0, maxLength));
      buffer = buffer.slice(maxLength);
    }
  });
  stream.on('end', () => {
    if (buffer.length > 0) onLine(buffer);
    buffer = '';
  });
}
