import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { checkPkceRequest, verifyPkce } from '../src/authorize/pkce.ts';

const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

describe('PKCE (B18-B23)', () => {
  test('RFC 7636 Appendix B: the example verifier answers the example challenge', () => {
    const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
    assert.equal(verifyPkce('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', verifier), true);
    assert.equal(verifyPkce('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', verifier.slice(0, -1)), false, 'one character short');
  });

  test('a missing challenge, plain, or a missing method is refused (B18, B19)', () => {
    const challenge = s256(randomBytes(32).toString('base64url'));
    assert.equal(checkPkceRequest(undefined, 'S256').ok, false);
    assert.equal(checkPkceRequest(challenge, 'plain').ok, false);
    assert.equal(checkPkceRequest(challenge, undefined).ok, false, 'a missing method means plain (RFC 7636 §4.3)');
    assert.equal(checkPkceRequest(challenge, 's256').ok, false, 'the method name is case-sensitive');
    assert.equal(checkPkceRequest('short', 'S256').ok, false);
    assert.equal(checkPkceRequest(`${challenge}=`, 'S256').ok, false);
    assert.deepEqual(checkPkceRequest(challenge, 'S256'), { ok: true, challenge });
  });

  test('a verifier outside 43-128 unreserved characters never matches, even with the right hash (B20)', () => {
    for (const verifier of ['a'.repeat(42), 'a'.repeat(129), `${'a'.repeat(42)} `, `${'a'.repeat(42)}+`, `${'a'.repeat(42)}/`, `${'é'.repeat(43)}`, '']) {
      assert.equal(verifyPkce(s256(verifier), verifier), false, JSON.stringify(verifier));
    }
    for (const verifier of ['a'.repeat(43), 'A-._~'.repeat(20) + 'abc', 'z'.repeat(128)]) {
      assert.equal(verifyPkce(s256(verifier), verifier), true, verifier);
    }
  });

  test('a wrong or missing verifier does not match (B21)', () => {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = s256(verifier);
    assert.equal(verifyPkce(challenge, verifier), true);
    assert.equal(verifyPkce(challenge, `${verifier.slice(0, -1)}${verifier.endsWith('A') ? 'B' : 'A'}`), false);
    assert.equal(verifyPkce(challenge, undefined), false);
    assert.equal(verifyPkce(challenge, challenge), false, 'the challenge is not the verifier (plain downgrade)');
    assert.equal(verifyPkce('not-a-challenge', verifier), false);
  });
});
