import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { forEachLine } from '../../src/util/lines.ts';

/** Feeds `chunks` through forEachLine and returns the lines it produced once the stream ended. */
async function linesOf(chunks: string[], maxLength?: number): Promise<string[]> {
  const stream = new PassThrough();
  const lines: string[] = [];
  forEachLine(stream, (line) => lines.push(line), { maxLength });
  const ended = new Promise((resolve) => stream.on('end', resolve));
  for (const chunk of chunks) stream.write(chunk);
  stream.end();
  await ended;
  return lines;
}

describe('forEachLine', () => {
  it('joins lines split across chunks and keeps empty ones', async () => {
    assert.deepEqual(await linesOf(['a', 'b\nc\n', '\nd\n']), ['ab', 'c', '', 'd']);
  });

  it('hands over a last line without a newline when the stream ends', async () => {
    assert.deepEqual(await linesOf(['one\ntwo']), ['one', 'two']);
  });

  it('cuts a run without newlines into pieces of maxLength, so the buffer stays bounded', async () => {
    assert.deepEqual(await linesOf(['x'.repeat(10), 'x'.repeat(5), '\nshort\n'], 4), ['xxxx', 'xxxx', 'xxxx', 'xxx', 'short']);
  });
});
