import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { basicAuthWith, CACHE_TTL_MS, MAX_CONCURRENT, MAX_QUEUED, parseBasicAuthorization } from '../../src/middleware/basic-auth.ts';
import { hashKind, loadVerifier } from '../../src/middleware/password-hash.ts';
import { fakeContext, runMiddleware } from './fake-context.ts';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('parseBasicAuthorization', () => {
  it('reads user and password', () => {
    assert.deepEqual(parseBasicAuthorization(basic('alice', 'wonder')), { user: 'alice', password: 'wonder' });
    assert.deepEqual(parseBasicAuthorization(`bAsIc   ${Buffer.from('a:b').toString('base64')}`), { user: 'a', password: 'b' });
  });

  it('splits at the first colon: passwords may contain colons, names may not', () => {
    assert.deepEqual(parseBasicAuthorization(basic('bob', 'p:a:ss')), { user: 'bob', password: 'p:a:ss' });
  });

  it('decodes UTF-8 (charset="UTF-8" in the challenge)', () => {
    assert.deepEqual(parseBasicAuthorization(basic('jörg', 'pässwörd')), { user: 'jörg', password: 'pässwörd' });
  });

  it('refuses what is not Basic credentials', () => {
    for (const header of [undefined, '', 'Basic', 'Basic ', 'Bearer abc.def', 'Basic !!!!', `Basic ${Buffer.from('nocolon').toString('base64')}`, `Basic a b`]) {
      assert.equal(parseBasicAuthorization(header), null, String(header));
    }
  });
});

/** A verifier that knows one password per hash and counts its calls. */
function countingVerifier(passwords: Record<string, string>) {
  const calls: string[] = [];
  const verify = async (hash: string, password: string) => {
    calls.push(hash);
    return passwords[hash] === password;
  };
  return { verify, calls };
}

describe('basic auth middleware', () => {
  const users = new Map([
    ['alice', 'HASH-A'],
    ['bob', 'HASH-B'],
  ]);
  const request = (authorization?: string) => fakeContext({ headers: authorization === undefined ? {} : { authorization } });

  it('asks for credentials with a 401 and a UTF-8 Basic challenge', async () => {
    const auth = basicAuthWith(users, 'Admin "area"', countingVerifier({}).verify);
    const result = await runMiddleware(auth, request());
    assert.equal(result.status, 401);
    assert.equal(result.headers['www-authenticate'], 'Basic realm="Admin \\"area\\"", charset="UTF-8"');
  });

  it('lets the right password through and remembers it', async () => {
    const { verify, calls } = countingVerifier({ 'HASH-A': 'wonder' });
    const auth = basicAuthWith(users, 'r', verify);
    assert.equal((await runMiddleware(auth, request(basic('alice', 'wonder')))).passed, true);
    assert.equal((await runMiddleware(auth, request(basic('alice', 'wonder')))).passed, true);
    assert.equal(calls.length, 1, 'the second request is answered from the cache');
  });

  it('never remembers a failure, and a wrong password is verified even for a remembered user', async () => {
    const { verify, calls } = countingVerifier({ 'HASH-A': 'wonder' });
    const auth = basicAuthWith(users, 'r', verify);
    await runMiddleware(auth, request(basic('alice', 'wonder')));
    assert.equal((await runMiddleware(auth, request(basic('alice', 'guess1')))).status, 401);
    assert.equal((await runMiddleware(auth, request(basic('alice', 'guess1')))).status, 401);
    assert.equal(calls.length, 3);
  });

  it('costs an unknown user the same verification as a known one', async () => {
    const { verify, calls } = countingVerifier({ 'HASH-A': 'wonder' });
    const auth = basicAuthWith(users, 'r', verify);
    const result = await runMiddleware(auth, request(basic('mallory', 'wonder')));
    assert.equal(result.status, 401, "the decoy hash's password does not let an unknown user in");
    assert.deepEqual(calls, ['HASH-A']);
  });

  it('verifies again once the remembered success has expired', async () => {
    let now = 0;
    const { verify, calls } = countingVerifier({ 'HASH-B': 'builder' });
    const auth = basicAuthWith(users, 'r', verify, () => now);
    await runMiddleware(auth, request(basic('bob', 'builder')));
    now = CACHE_TTL_MS - 1;
    await runMiddleware(auth, request(basic('bob', 'builder')));
    assert.equal(calls.length, 1);
    now = CACHE_TTL_MS;
    assert.equal((await runMiddleware(auth, request(basic('bob', 'builder')))).passed, true);
    assert.equal(calls.length, 2);
  });

  it('refuses with 401 when the verifier fails', async () => {
    const auth = basicAuthWith(users, 'r', async () => {
      throw new Error('broken hash');
    });
    assert.equal((await runMiddleware(auth, request(basic('alice', 'x')))).status, 401);
  });

  it('answers 503 instead of queueing verifications without end', async () => {
    const pending: (() => void)[] = [];
    const auth = basicAuthWith(users, 'r', () => new Promise<boolean>((resolve) => pending.push(() => resolve(false))));
    const waiting = Array.from({ length: MAX_CONCURRENT + MAX_QUEUED }, () => runMiddleware(auth, request(basic('alice', 'x'))));
    const overflow = await runMiddleware(auth, request(basic('alice', 'x')));
    assert.equal(overflow.status, 503);
    assert.equal(overflow.headers['retry-after'], '1');
    assert.equal(pending.length, MAX_CONCURRENT, 'only MAX_CONCURRENT verifications run at once');
    while (pending.length > 0) pending.shift()!();
    // Each finished verification starts a queued one; drain them all.
    for (let i = 0; i < MAX_QUEUED; i++) {
      await new Promise((r) => setImmediate(r));
      while (pending.length > 0) pending.shift()!();
    }
    const results = await Promise.all(waiting);
    assert.ok(results.every((r) => r.status === 401));
  });
});

describe('password hashes', () => {
  it('verifies bcrypt and argon2 hashes of every supported kind', async () => {
    const { hash: bcryptHash } = await import('@node-rs/bcrypt');
    const argon2 = await import('@node-rs/argon2');
    const cheapArgon = { memoryCost: 1024, timeCost: 1, parallelism: 1 };
    const b = (await bcryptHash('s3cret', 4)).replace(/^\$2y\$/, '$2b$');
    const hashes = [
      b,
      b.replace(/^\$2b\$/, '$2a$'),
      b.replace(/^\$2b\$/, '$2y$'),
      await argon2.hash('s3cret', { ...cheapArgon, algorithm: 2 as never }),
      await argon2.hash('s3cret', { ...cheapArgon, algorithm: 1 as never }),
      await argon2.hash('s3cret', { ...cheapArgon, algorithm: 0 as never }),
    ];
    assert.deepEqual(
      hashes.map((h) => h.slice(0, h.indexOf('$', 1) + 1)),
      ['$2b$', '$2a$', '$2y$', '$argon2id$', '$argon2i$', '$argon2d$'],
    );
    const verify = await loadVerifier(hashes, (i) => `hash ${i}`);
    for (const hash of hashes) {
      assert.equal(await verify(hash, 's3cret'), true, hash);
      assert.equal(await verify(hash, 's3cret '), false, hash);
    }
  });

  it('names the user whose hash cannot be used', async () => {
    await assert.rejects(loadVerifier(['$2b$10$tooshort'], () => 'sites["*"]["/admin"].auth.users["alice"]'), /users\["alice"\]: the password hash cannot be used/);
    await assert.rejects(loadVerifier(['$argon2id$v=19$m=19456,t=2,p=1$!!$!!'], () => 'carol'), /carol/);
  });

  it('tells the kinds apart', () => {
    assert.equal(hashKind('$2b$10$x'), 'bcrypt');
    assert.equal(hashKind('$argon2id$v=19$x'), 'argon2');
    assert.equal(hashKind('plaintext'), null);
    assert.equal(hashKind('$1$md5crypt'), null);
  });
});
