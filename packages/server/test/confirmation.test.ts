import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { describe, mock, test } from 'node:test';
import { senderMatches } from '../src/tokens/confirmation.ts';

// RFC 8705 §3 and RFC 9449 §7.1: the sender of a bound token must hold the key or certificate its
// `cnf` names; docs/security.md M85 wants the comparison in constant time.
describe('senderMatches compares a token binding with the sender in constant time', () => {
  const jkt = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';
  const x5t = 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2';

  test('the same key or certificate matches; another, one of another length, or none does not', () => {
    assert.equal(senderMatches({ jkt }, { dpopJkt: jkt }), true);
    assert.equal(senderMatches({ 'x5t#S256': x5t }, { certificateThumbprint: x5t }), true);
    assert.equal(senderMatches({ jkt }, { dpopJkt: `${jkt.slice(0, -1)}Y` }), false);
    assert.equal(senderMatches({ jkt }, { dpopJkt: jkt.slice(1) }), false);
    assert.equal(senderMatches({ jkt }, {}), false);
    // A certificate does not stand in for a DPoP key, nor a key for a certificate, even with the same value.
    assert.equal(senderMatches({ jkt }, { certificateThumbprint: jkt }), false);
    assert.equal(senderMatches({ 'x5t#S256': x5t }, { dpopJkt: x5t }), false);
  });

  test('the comparison goes through crypto.timingSafeEqual', () => {
    const spy = mock.method(crypto, 'timingSafeEqual');
    syncBuiltinESMExports();
    try {
      assert.equal(senderMatches({ 'x5t#S256': x5t }, { certificateThumbprint: x5t }), true);
      assert.equal(senderMatches({ jkt }, { dpopJkt: `${jkt.slice(0, -1)}Y` }), false);
      assert.equal(spy.mock.callCount(), 2);
    } finally {
      spy.mock.restore();
      syncBuiltinESMExports();
    }
  });
});
