/**
 * Kirin's request object keeps its duties when an app swaps its prototype, as
 * Express does for every request (`Object.setPrototypeOf(req, app.request)`).
 */
import assert from 'node:assert/strict';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { KirinIncomingMessage, limitChunkedBody } from '../../src/worker/incoming.ts';

describe('KirinIncomingMessage under a swapped prototype', () => {
  it('still stops a chunked body past the route limit', () => {
    const req = new KirinIncomingMessage(new Socket());
    req.on('error', () => {});
    let overLimit = 0;
    limitChunkedBody(req, 10, () => overLimit++);
    // What Express does: a prototype built on node:http's IncomingMessage, not Kirin's class.
    Object.setPrototypeOf(req, Object.create(IncomingMessage.prototype));
    req.push(Buffer.alloc(8));
    assert.equal(overLimit, 0);
    req.push(Buffer.alloc(8));
    assert.equal(overLimit, 1, 'the 413 was called for');
    assert.equal(req.destroyed, true);
  });
});
