import { InvalidClient } from '../errors.ts';
import type { PresentedCredentials } from './presented.ts';

/**
 * RFC 6749 §2.3.1: HTTP Basic with the client identifier and secret, each encoded with the
 * application/x-www-form-urlencoded algorithm first. Returns undefined when the request has no
 * `Authorization: Basic` header.
 */
export function readClientSecretBasic(authorization: string | undefined): PresentedCredentials | undefined {
  if (authorization === undefined) return undefined;
  const match = /^basic(?:\s+(.*))?$/i.exec(authorization.trim());
  if (!match) return undefined;
  const fail = (why: string) => new InvalidClient('invalid HTTP Basic client authentication', why);
  const encoded = match[1]?.trim() ?? '';
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) throw fail('not base64');
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw fail('no colon in credentials');
  let clientId: string;
  let secret: string;
  try {
    clientId = formDecode(decoded.slice(0, colon));
    secret = formDecode(decoded.slice(colon + 1));
  } catch {
    throw fail('bad percent-encoding');
  }
  if (!clientId || !secret) throw fail('empty client id or secret');
  return { method: 'client_secret_basic', clientId, secret };
}

function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}
