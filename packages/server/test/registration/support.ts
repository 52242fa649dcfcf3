import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import type { Settings } from '../../src/config/defaults.ts';
import { type Backend, type JsonReply, type Latchkey, sendJson, startLatchkey } from '@latchkey/testing';

/**
 * What the dynamic registration suites share: a server with an API whose `notes:read` is open to
 * self-registered clients and whose `notes:write` is not (the orders API of the fixtures has no open
 * scope).
 */

/** An API with one scope open to registered clients and one that is not. */
export const NOTES = 'https://notes.example.com';

export { sendJson, type JsonReply };

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A server for the registration suites: the fixtures, the NOTES API, registration as `settings` say. */
export async function registrationServer(backend: Backend, settings: Partial<Settings>): Promise<Latchkey> {
  const lk = await startLatchkey({ backend, settings: { registrationRateLimitPerHour: 1000, ...settings } });
  await lk.running.registry.createResource({
    identifier: NOTES,
    name: 'Notes API',
    scopes: [
      { scope: 'notes:read', description: 'Read your notes' },
      { scope: 'notes:write', description: 'Change your notes' },
    ],
    openScopes: ['notes:read'],
  });
  return lk;
}

/** POSTs to `{issuer}/register`. */
export function register(lk: Latchkey, metadata: unknown, headers: Record<string, string> = {}): Promise<JsonReply> {
  return sendJson(`${lk.issuer}/register`, 'POST', metadata, headers);
}

/** A web application's metadata: code flow, the given auth method, one redirect URI. */
export function webApp(changes: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    client_name: 'Notes Web',
    redirect_uris: ['https://notes-app.example/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'openid notes:read',
    ...changes,
  };
}

/** RFC 7591 §3.2.2: the error, its status, JSON, never cached. */
export function assertRegistrationError(res: JsonReply, error: string, label: string, status = 400): void {
  assert.equal(res.status, status, `${label}: ${res.status} ${res.text}`);
  assert.equal(res.body?.error, error, `${label}: ${res.text}`);
  assert.equal(typeof res.body.error_description, 'string', label);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, label);
  assert.equal(res.headers.get('cache-control'), 'no-store', label);
  assert.equal(res.headers.get('pragma'), 'no-cache', label);
  assert.equal(res.body.client_id, undefined, label);
}

/** RFC 6750 §3.1: 401 invalid_token with a Bearer challenge naming the error. */
export function assertInvalidToken(res: JsonReply, label: string): void {
  assert.equal(res.status, 401, `${label}: ${res.status} ${res.text}`);
  assert.equal(res.body?.error, 'invalid_token', `${label}: ${res.text}`);
  assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm="[^"]+", error="invalid_token"/, `${label}: WWW-Authenticate`);
  assert.equal(res.headers.get('cache-control'), 'no-store', label);
}

export interface SigningKey {
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function signingKey(kid = 'k1'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

/** An RFC 7523 §3 client assertion for the token endpoint. */
export function clientAssertion(clientId: string, issuer: string, key: SigningKey): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: clientId, sub: clientId, aud: `${issuer}/token`, iat: now, exp: now + 60, jti: randomBytes(16).toString('base64url') })
    .setProtectedHeader({ alg: 'ES256', kid: key.publicJwk.kid! })
    .sign(key.privateKey);
}

export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
