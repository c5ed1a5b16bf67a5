import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { acceptKey, ClientFrameScanner, closeFrame } from '../../src/worker/websocket-frames.ts';

/** A masked client frame, as a browser sends it. */
function clientFrame(opcode: number, payloadLength: number, fin = true): Buffer {
  const head = payloadLength < 126 ? 2 : payloadLength < 65536 ? 4 : 10;
  const frame = Buffer.alloc(head + 4 + payloadLength, 0x61);
  frame[0] = (fin ? 0x80 : 0) | opcode;
  if (head === 2) frame[1] = 0x80 | payloadLength;
  else if (head === 4) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(payloadLength, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(0, 2);
    frame.writeUInt32BE(payloadLength, 6);
  }
  frame.writeUInt32BE(0x01020304, head);
  return frame;
}

describe('ClientFrameScanner', () => {
  it('passes messages up to the limit, with 7-, 16- and 64-bit lengths', () => {
    const scanner = new ClientFrameScanner(70_000);
    assert.equal(scanner.scan(Buffer.concat([clientFrame(1, 10), clientFrame(2, 300), clientFrame(2, 70_000)])), true);
    assert.equal(scanner.scan(clientFrame(2, 70_001)), false);
  });

  it('adds up the fragments of one message; control frames between them do not count', () => {
    const scanner = new ClientFrameScanner(1000);
    assert.equal(scanner.scan(Buffer.concat([clientFrame(1, 400, false), clientFrame(9, 100), clientFrame(0, 400, false)])), true);
    assert.equal(scanner.scan(clientFrame(0, 201, true)), false);
    const fresh = new ClientFrameScanner(1000);
    assert.equal(fresh.scan(Buffer.concat([clientFrame(1, 600, false), clientFrame(0, 400, true), clientFrame(1, 1000)])), true, 'a new message starts from zero');
  });

  it('reads headers split across chunks, one byte at a time', () => {
    const scanner = new ClientFrameScanner(500);
    const stream = Buffer.concat([clientFrame(2, 300), clientFrame(2, 200), clientFrame(2, 501)]);
    let ok = true;
    for (let i = 0; i < stream.length && ok; i++) ok = scanner.scan(stream.subarray(i, i + 1));
    assert.equal(ok, false);
    const whole = new ClientFrameScanner(500);
    const good = Buffer.concat([clientFrame(2, 300), clientFrame(2, 200)]);
    for (let i = 0; i < good.length; i++) assert.equal(whole.scan(good.subarray(i, i + 1)), true);
  });

  it('builds the close frame and the handshake key of RFC 6455', () => {
    assert.deepEqual([...closeFrame(1009, 'big')], [0x88, 5, 0x03, 0xf1, 0x62, 0x69, 0x67]);
    // The example of RFC 6455 §1.3.
    assert.equal(acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });
});
