import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { checkRedirectUriForRegistration, matchRedirectUri } from '../src/registry/redirect-uri.ts';

const accepted = (uri: string) => checkRedirectUriForRegistration(uri).ok;

describe('redirect URI registration (A5, A6)', () => {
  test('https URIs in canonical form, loopback IP literals over http, and reverse-DNS private schemes are accepted', () => {
    for (const uri of [
      'https://app.example.com/callback',
      'https://app.example.com/callback?tenant=a',
      'https://app.example.com:8443/cb',
      'https://app.example.com',
      'http://127.0.0.1/callback',
      'http://127.0.0.1:53682/callback',
      'http://[::1]:8080/cb',
      'com.example.app:/oauth2redirect',
    ]) {
      assert.equal(accepted(uri), true, uri);
    }
  });

  test('http is refused except for loopback IP literals; localhost is refused (RFC 8252 §8.3)', () => {
    for (const uri of ['http://app.example.com/cb', 'http://localhost/cb', 'http://localhost:3000/cb', 'http://10.0.0.1/cb', 'http://127.0.0.1.evil.example/cb']) {
      assert.equal(accepted(uri), false, uri);
    }
  });

  test('javascript:, data:, vbscript: and other dangerous schemes are refused in any letter case (CVE-2026-9086)', () => {
    for (const uri of ['javascript:alert(1)', 'JavaScript:alert(1)', 'JAVASCRIPT://x/%0aalert(1)', 'data:text/html,<script>', 'DaTa:text/html,x', 'vbscript:msgbox', 'VBScript:x', 'file:///etc/passwd', 'blob:https://x/1', 'about:blank', 'ws://x/y']) {
      assert.equal(accepted(uri), false, uri);
    }
  });

  test('fragments, userinfo, several @, backslashes, dot segments and ..;/ are refused (CVE-2024-8883, CVE-2026-7504, CVE-2026-3872)', () => {
    for (const uri of [
      'https://app.example.com/cb#frag',
      'https://app.example.com/cb#',
      'https://user@app.example.com/cb',
      'https://user:pw@app.example.com/cb',
      'https://app.example.com@evil.example/cb',
      'https://a@b@evil.example/cb',
      'https://app.example.com\\@evil.example/cb',
      'https://app.example.com/cb\\..\\x',
      'https://app.example.com/../cb',
      'https://app.example.com/a/./cb',
      'https://app.example.com/a/..;/cb',
      'https://app.example.com/..;/cb',
      'https://app.example.com/*',
      'https://*.example.com/cb',
      ' https://app.example.com/cb',
      'https://app.example.com/c b',
      'https://app.example.com/cb\n',
    ]) {
      assert.equal(accepted(uri), false, JSON.stringify(uri));
    }
  });

  test('a URI a parser would rewrite is refused, with the canonical form in the reason', () => {
    for (const [uri, canonical] of [
      ['HTTPS://App.Example.com/cb', 'https://app.example.com/cb'],
      ['https://app.example.com:443/cb', 'https://app.example.com/cb'],
      ['http://[0:0:0:0:0:0:0:1]/cb', 'http://[::1]/cb'],
      ['http://0x7f.0.0.1/cb', 'http://127.0.0.1/cb'],
      ['http://2130706433/cb', 'http://127.0.0.1/cb'],
    ] as const) {
      const check = checkRedirectUriForRegistration(uri);
      assert.equal(check.ok, false, uri);
      if (canonical && !check.ok) assert.ok(check.reason.includes(canonical), `${uri}: ${check.reason}`);
    }
  });

  test('private-use schemes must be reverse domain names without a host (RFC 8252 §7.1)', () => {
    for (const uri of ['myapp:/cb', 'myapp://host/cb', 'com.example.app://evil.example/cb']) {
      assert.equal(accepted(uri), false, uri);
    }
  });

  test('never throws, whatever the input (oauthlib CVE-2022-36087: a crafted IPv6 URI crashed the validator)', () => {
    const pieces = ['http://', 'https://', '[', ']', '::', ':', '%', '@', '/', '\\', '?', '#', '..', ';', '127.0.0.1', '::ffff:127.0.0.1', 'v1.x', '%00', '%zz', 'é', '\u0000', ' ', '0x', '65536', 'a'.repeat(300)];
    for (let i = 0; i < 20_000; i++) {
      const bytes = randomBytes(8);
      let uri = '';
      for (const b of bytes) uri += pieces[b % pieces.length];
      const check = checkRedirectUriForRegistration(uri);
      assert.equal(typeof check.ok, 'boolean');
      assert.equal(matchRedirectUri(['http://127.0.0.1/cb', 'https://app.example.com/cb'], uri) === undefined || check.ok || uri === 'https://app.example.com/cb', true);
    }
  });
});

describe('redirect URI matching (A1, A4)', () => {
  const registered = ['https://app.example.com/callback', 'http://127.0.0.1/cb?x=1'];

  test('exact string comparison: no prefix, no case folding, no normalisation', () => {
    assert.equal(matchRedirectUri(registered, 'https://app.example.com/callback'), 'https://app.example.com/callback');
    for (const uri of [
      'https://app.example.com/callback/',
      'https://app.example.com/callback/extra',
      'https://app.example.com/callback?x=1',
      'https://APP.example.com/callback',
      'https://app.example.com:443/callback',
      'https://app.example.com/Callback',
      'https://app.example.com/callback#x',
      'https://app.example.com.evil.example/callback',
      'https://app.example.com/%63allback',
    ]) {
      assert.equal(matchRedirectUri(registered, uri), undefined, uri);
    }
  });

  test('only the port of a loopback IP literal may vary; its path and query must still match (fosite CVE-2020-15233)', () => {
    assert.equal(matchRedirectUri(registered, 'http://127.0.0.1:51000/cb?x=1'), 'http://127.0.0.1:51000/cb?x=1');
    assert.equal(matchRedirectUri(registered, 'http://127.0.0.1:51000/cb?x=2'), undefined, 'other query');
    assert.equal(matchRedirectUri(registered, 'http://127.0.0.1:51000/cb'), undefined, 'no query');
    assert.equal(matchRedirectUri(registered, 'http://127.0.0.1:51000/other?x=1'), undefined, 'other path');
    assert.equal(matchRedirectUri(registered, 'http://[::1]:51000/cb?x=1'), undefined, 'another loopback address is another URI');
    assert.equal(matchRedirectUri(registered, 'http://localhost:51000/cb?x=1'), undefined, 'localhost is not a loopback literal');
    assert.equal(matchRedirectUri(['https://app.example.com/cb'], 'https://app.example.com:8443/cb'), undefined, 'no port variance for https');
  });

  test('redirect_uri may be left out only when exactly one URI is registered (OAuth 2.1 §4.1.1)', () => {
    assert.equal(matchRedirectUri(['https://app.example.com/cb'], undefined), 'https://app.example.com/cb');
    assert.equal(matchRedirectUri(registered, undefined), undefined);
    assert.equal(matchRedirectUri([], undefined), undefined);
  });
});
