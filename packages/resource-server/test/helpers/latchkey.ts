import assert from 'node:assert/strict';
import { SignJWT, type JWTHeaderParameters, type JWTPayload } from 'jose';
import type { TestDatabase } from '../../../server/test/helpers/backends.ts';
import { postForm, startServer, type RunningServer } from '../../../server/test/helpers/server.ts';

/** The API these suites protect, registered at the Latchkey server as a resource. */
export const API = 'https://api.example.com';

/** A real Latchkey server with the orders API, a client allowed `orders:read`, and the API's own introspecting client. */
export interface Latchkey {
  s: RunningServer;
  issuer: string;
  /** A client-credentials client allowed `orders:read` on the API. */
  caller: [string, string];
  /** The API's client, registered with `introspectFor: [API]`. */
  apiClient: [string, string];
  /** A client-credentials access token for the API. */
  token(scope?: string): Promise<string>;
  close(): Promise<void>;
}

export async function startLatchkey(db: TestDatabase, options: { accessTokenFormat?: 'jwt' | 'opaque' } = {}): Promise<Latchkey> {
  const s = await startServer(db);
  await s.registry.createResource({ identifier: API, scopes: ['orders:read', 'orders:write'], ...options });
  const caller = await s.registry.createClient({ name: 'svc-a', type: 'confidential', grantTypes: ['client_credentials'], scopes: ['orders:read'] });
  const api = await s.registry.createClient({ name: 'orders-api', type: 'confidential', grantTypes: [], scopes: [], introspectFor: [API] });
  const callerCreds: [string, string] = [caller.client.clientId, caller.clientSecret!];
  return {
    s,
    issuer: s.issuer,
    caller: callerCreds,
    apiClient: [api.client.clientId, api.clientSecret!],
    async token(scope = 'orders:read') {
      const res = await postForm(`${s.issuer}/token`, { grant_type: 'client_credentials', scope }, { basic: callerCreds });
      assert.equal(res.status, 200, res.text);
      return res.body.access_token as string;
    },
    close: () => s.close(),
  };
}

/** A fetch that records every URL it is asked for, to count requests to the issuer. */
export function countingFetch(): { fetch: typeof globalThis.fetch; urls: string[]; count(path: string): number } {
  const urls: string[] = [];
  return {
    urls,
    fetch: (input, init) => {
      urls.push(input instanceof Request ? input.url : String(input));
      return globalThis.fetch(input, init);
    },
    count: (path) => urls.filter((u) => new URL(u).pathname === path).length,
  };
}

/** Honest RFC 9068 claims for the API, with overrides (undefined removes a claim). */
export function accessClaims(issuer: string, overrides: Record<string, unknown> = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: issuer,
    sub: 'svc-a',
    aud: API,
    exp: now + 300,
    iat: now,
    jti: `jti-${Math.random().toString(36).slice(2)}`,
    client_id: 'svc-a',
    scope: 'orders:read',
  };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete claims[name];
    else claims[name] = value;
  }
  return claims;
}

/** Signs claims with the server's current ES256 key (the key in its JWKS), under any header. */
export async function signWithServerKey(latchkey: Latchkey, claims: JWTPayload, header: Partial<JWTHeaderParameters> = {}): Promise<string> {
  const signer = await latchkey.s.server.context.keys.signer('ES256');
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: signer.kid, typ: 'at+jwt', ...header }).sign(signer.key);
}
