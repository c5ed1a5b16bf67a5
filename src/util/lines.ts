/**
 * Calls `onLine` for each complete line a text stream produces (without the
 * newline). Used wherever Kirin or its tests read another process's output.
 */
import type { Readable } from 'node:stream';

export function forEachLine(stream: Readable, onLine: (line: string) => void): void {
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
  });
}
