import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { csrfToken, deriveMacKey, verifyCsrfToken } from '../src/ui/csrf.ts';
import { escapeHtml, PAGE_SECURITY_HEADERS } from '../src/ui/security-headers.ts';

describe('HTML page protections (A17)', () => {
  test('pages cannot be framed, run no script, and are not cached', () => {
    const csp = PAGE_SECURITY_HEADERS['content-security-policy']!;
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /script-src|unsafe-inline|unsafe-eval/);
    assert.equal(PAGE_SECURITY_HEADERS['x-frame-options'], 'DENY');
    assert.equal(PAGE_SECURITY_HEADERS['cache-control'], 'no-store');
    assert.equal(PAGE_SECURITY_HEADERS['referrer-policy'], 'no-referrer');
  });

  test('escapeHtml neutralises markup and attribute breakouts', () => {
    assert.equal(escapeHtml(`<script>alert("x")</script> & 'y'`), '&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; &#39;y&#39;');
    assert.equal(escapeHtml('Orders app'), 'Orders app');
  });
});

describe('CSRF tokens', () => {
  const key = deriveMacKey('test-secret-for-latchkey-suites-0123456789');

  test('a token verifies for its own binding only', () => {
    const token = csrfToken(key, 'session-a');
    assert.equal(verifyCsrfToken(key, 'session-a', token), true);
    assert.equal(verifyCsrfToken(key, 'session-b', token), false, 'another browser');
    assert.equal(verifyCsrfToken(key, 'session-a', undefined), false, 'missing');
    assert.equal(verifyCsrfToken(key, 'session-a', ''), false, 'empty');
    assert.equal(verifyCsrfToken(key, '', csrfToken(key, '')), false, 'no binding, no token');
    const tampered = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    assert.equal(verifyCsrfToken(key, 'session-a', tampered), false, 'tampered');
    assert.equal(verifyCsrfToken(key, 'session-a', `${token}x`), false, 'longer');
  });

  test('the key comes from LATCHKEY_SECRET: every node agrees, another secret does not', () => {
    const sameSecret = deriveMacKey('test-secret-for-latchkey-suites-0123456789');
    const otherSecret = deriveMacKey('another-secret-entirely-0123456789');
    const token = csrfToken(key, 'session-a');
    assert.equal(verifyCsrfToken(sameSecret, 'session-a', token), true);
    assert.equal(verifyCsrfToken(otherSecret, 'session-a', token), false);
    assert.equal(key.length, 32);
  });
});
