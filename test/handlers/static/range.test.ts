import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRange } from '../../../src/handlers/static/range.ts';

describe('parseRange', () => {
  it('reads one range: first-last, open-ended and suffix', () => {
    assert.deepEqual(parseRange('bytes=0-99', 1000), { start: 0, end: 99 });
    assert.deepEqual(parseRange('bytes=900-', 1000), { start: 900, end: 999 });
    assert.deepEqual(parseRange('bytes=-100', 1000), { start: 900, end: 999 });
    assert.deepEqual(parseRange('Bytes= 10-20 ', 1000), { start: 10, end: 20 });
  });

  it('clamps a range or suffix running past the end', () => {
    assert.deepEqual(parseRange('bytes=990-5000', 1000), { start: 990, end: 999 });
    assert.deepEqual(parseRange('bytes=-5000', 1000), { start: 0, end: 999 });
    assert.deepEqual(parseRange('bytes=0-99999999999999999999999', 1000), { start: 0, end: 999 });
  });

  it('calls a range starting past the end, a zero suffix or any range of an empty file unsatisfiable', () => {
    assert.equal(parseRange('bytes=1000-', 1000), 'unsatisfiable');
    assert.equal(parseRange('bytes=5000-6000', 1000), 'unsatisfiable');
    assert.equal(parseRange('bytes=-0', 1000), 'unsatisfiable');
    assert.equal(parseRange('bytes=0-', 0), 'unsatisfiable');
  });

  it('ignores garbage, other units, reversed ranges and several ranges (the whole file is sent)', () => {
    for (const header of ['', 'bytes', 'bytes=', 'bytes=-', 'bytes=a-b', 'bytes=5-1', 'items=0-1', 'bytes=0-1;x', 'bytes=1-2-3', 'bytes=0-1,2-3', 'bytes=0-0,-1', '\u0000', 'bytes=0x10-20']) {
      assert.equal(parseRange(header, 1000), 'ignore', header);
    }
  });
});
