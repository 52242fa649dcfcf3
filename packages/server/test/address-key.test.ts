import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addressKey } from '../src/lib/address-key.ts';

describe('per-address limits count an IPv6 /64 as one address (RFC 6177, RFC 7934)', () => {
  test('IPv4 as it is; IPv4-mapped IPv6 as its IPv4 address', () => {
    assert.equal(addressKey('192.0.2.7'), '192.0.2.7');
    assert.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(addressKey('::FFFF:192.0.2.7'), '192.0.2.7');
  });

  test('every address of one /64 has one key, whatever its spelling; another /64 has another', () => {
    const key = addressKey('2001:db8:1:2::1');
    for (const same of ['2001:db8:1:2::ffff', '2001:0db8:0001:0002:abcd:ef01:2345:6789', '2001:DB8:1:2:0:0:0:1', '2001:db8:1:2::1%eth0', '2001:db8:1:2::1.2.3.4']) {
      assert.equal(addressKey(same), key, same);
    }
    assert.equal(key, '2001:db8:1:2::/64');
    assert.notEqual(addressKey('2001:db8:1:3::1'), key);
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('fe80::1'), 'fe80:0:0:0::/64');
    assert.equal(addressKey('2001:db8::'), '2001:db8:0:0::/64');
  });

  test('anything that is not an address is returned as given', () => {
    assert.equal(addressKey('unknown'), 'unknown');
    assert.equal(addressKey(''), '');
  });
});
