import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LightResponse, NativeResponse } from '../../../src/handlers/app/light-response.ts';

/** The error the native constructor throws for these arguments, or null. */
function nativeError(body: BodyInit | null, init: ResponseInit): unknown {
  try {
    new NativeResponse(body, init);
    return null;
  } catch (error) {
    return error;
  }
}

describe('LightResponse', () => {
  it('refuses what the native Response refuses: a body on 204, 205 or 304, a status out of range', () => {
    for (const [body, status] of [['x', 204], ['x', 205], ['x', 304], [new Uint8Array(1), 205], [null, 199], [null, 600]] as const) {
      const expected = nativeError(body, { status });
      assert.ok(expected instanceof Error, `the native Response refuses ${status}`);
      assert.throws(() => new LightResponse(body, { status }), { name: expected.name }, `status ${status} with ${body === null ? 'no body' : 'a body'}`);
    }
  });

  it('accepts the same statuses without a body, and keeps them', () => {
    for (const status of [204, 205, 304]) assert.equal(new LightResponse(null, { status }).status, status);
    assert.equal(new LightResponse('fine', { status: 201 }).status, 201);
  });

  it("is what `instanceof Response` asks for as the global Response, and Node's own Responses (fetch's) still pass", () => {
    const Response = LightResponse as unknown as typeof globalThis.Response;
    assert.ok(new LightResponse('light') instanceof Response);
    assert.ok(new NativeResponse('native') instanceof Response, "a native Response (what fetch() returns) is not instanceof the installed Response");
    assert.ok(new LightResponse('light') instanceof NativeResponse);
    for (const other of [{}, null, 'text', new Map()]) assert.equal(other instanceof Response, false);
    class Mine extends Response {}
    assert.ok(new Mine('mine') instanceof Mine);
    assert.ok(new Mine('mine') instanceof Response);
    assert.equal(new LightResponse('light') instanceof Mine, false, 'a subclass keeps the ordinary check');
    assert.equal(new NativeResponse('native') instanceof Mine, false);
  });
});
