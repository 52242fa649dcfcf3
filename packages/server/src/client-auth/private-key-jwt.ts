import { createLocalJWKSet, decodeJwt, errors, jwtVerify, type CryptoKey, type JSONWebKeySet, type JWTVerifyGetKey, type JWTVerifyOptions, type JWTVerifyResult } from 'jose';
import { CLOCK_TOLERANCE_SECONDS } from '../config/defaults.ts';
import type { ServerContext } from '../context.ts';
import { InvalidClient, InvalidRequest } from '../errors.ts';
import type { FormParams } from '../lib/form-params.ts';
import { sha256 } from '../lib/random.ts';
import type { Client } from '../registry/types.ts';
import { CLIENT_ASSERTION_ALGORITHMS, verificationKeys } from './client-keys.ts';
import { JwksUriCache } from './jwks-cache.ts';
import { jwtPolicyFor } from '../profiles/fapi2.ts';
import type { PresentedCredentials } from './presented.ts';

/** RFC 7523 §2.2: the `client_assertion_type` of a JWT client assertion. */
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** An assertion may be valid for at most this long from now (its `exp`); a short life limits replay. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300; // 5 minutes
/** Assertions longer than this are refused before they are decoded (docs/security.md K74). */
const MAX_ASSERTION_LENGTH = 8 * 1024; // 8 KiB
/** Longest `jti` accepted; it is stored hashed, so the length only bounds the work. */
const MAX_JTI_LENGTH = 256;

/**
 * RFC 7521 §4.2 / RFC 7523 §2.2: `client_assertion_type` and `client_assertion` in the body. Returns
 * undefined when neither is there. The assertion is only decoded here, to learn which client it
 * claims to be; authenticateClient verifies it against that client's keys.
 */
export function readPrivateKeyJwt(params: FormParams): PresentedCredentials | undefined {
  const type = params.get('client_assertion_type');
  const assertion = params.get('client_assertion');
  if (type === undefined && assertion === undefined) return undefined;
  // RFC 7521 §4.2: both parameters are REQUIRED.
  if (type === undefined || assertion === undefined) {
    throw new InvalidRequest('client_assertion and client_assertion_type must be sent together');
  }
  const fail = (detail: string) => new InvalidClient('client authentication failed', detail);
  // RFC 6749 §5.2 invalid_client: "unsupported authentication method".
  if (type !== CLIENT_ASSERTION_TYPE) throw fail('unsupported client_assertion_type');
  if (assertion.length > MAX_ASSERTION_LENGTH) throw fail('client_assertion is too long');
  let sub: unknown;
  try {
    sub = decodeJwt(assertion).sub;
  } catch {
    throw fail('client_assertion is not a JWT');
  }
  // RFC 7523 §3 item 2: for client authentication, "the subject MUST be the client_id".
  if (typeof sub !== 'string' || sub === '') throw fail('client_assertion has no sub');
  // RFC 7521 §4.2: client_id, when present, "MUST identify the same client as is identified by the
  // client assertion".
  const clientId = params.get('client_id');
  if (clientId !== undefined && clientId !== sub) throw fail('client_id differs from the client_assertion sub');
  return { method: 'private_key_jwt', clientId: sub, assertion };
}

/** Each server's cache of the keys at its clients' jwks_uri. */
const jwksCaches = new WeakMap<ServerContext, JwksUriCache>();

function jwksCacheOf(ctx: ServerContext): JwksUriCache {
  let cache = jwksCaches.get(ctx);
  if (!cache) {
    cache = new JwksUriCache({ allowLoopback: ctx.settings.allowLoopbackJwksUri, caFile: ctx.settings.outboundCaFile });
    jwksCaches.set(ctx, cache);
  }
  return cache;
}

/**
 * Verifies a client assertion (RFC 7523 §3, OIDC Core §9 private_key_jwt) of a client registered for
 * private_key_jwt, and spends its `jti`. Every failure is `invalid_client` (RFC 7521 §4.2.1).
 */
export async function verifyClientAssertion(ctx: ServerContext, client: Client, assertion: string): Promise<void> {
  const fail = (detail: string) => new InvalidClient('client authentication failed', detail);
  const issuer = ctx.settings.issuer;
  const tokenEndpoint = ctx.urls.endpoint('token');
  // The audiences this server answers to. Only these two: an assertion made for another endpoint
  // (introspection, revocation) still names the server, by its issuer or token endpoint.
  const ours = [issuer, tokenEndpoint];
  // A `fapi2` client's assertions: fewer algorithms, the issuer alone as aud, 10 s of clock skew (profiles/fapi2.ts).
  const policy = jwtPolicyFor(client);
  const tolerance = policy.clockToleranceSeconds ?? CLOCK_TOLERANCE_SECONDS;
  const options: JWTVerifyOptions = {
    // RFC 8725 §3.1: the algorithms come from here, never from the token: no `none`, no HS*.
    algorithms: [...(policy.clientAssertionAlgorithms ?? CLIENT_ASSERTION_ALGORITHMS)],
    // RFC 7523 §3 items 1 and 2; OIDC Core §9: iss and sub are the client_id.
    issuer: client.clientId,
    subject: client.clientId,
    // RFC 7523 §3 item 3: "The JWT MUST contain an "aud" (audience) claim containing a value that
    // identifies the authorization server as an intended audience."
    audience: ours,
    // RFC 7523 §3 item 4: "The JWT MUST contain an "exp" (expiration time) claim"; OIDC Core §9
    // makes jti REQUIRED, and it is what makes the assertion single use.
    requiredClaims: ['exp', 'jti'],
    clockTolerance: tolerance,
  };
  let payload: JWTVerifyResult['payload'];
  try {
    ({ payload } = await verifyWithClientKeys(ctx, client, assertion, options));
  } catch (err) {
    // A key that cannot be fetched, a bad signature, a wrong claim: the client is not authenticated.
    throw fail(`client_assertion refused: ${(err as Error).message}`);
  }
  const now = ctx.now();
  // An audience list naming anyone else too makes the assertion usable there as well: refused, so an
  // assertion the client made for another server can never be played here, nor ours there.
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (audiences.some((a) => !ours.includes(a as string))) throw fail('client_assertion aud names another audience too');
  // FAPI 2.0 §5.3.2.1 item 8: "shall only accept its issuer identifier value (as defined in [RFC8414])
  // as a string in the aud claim received in client authentication assertions".
  if (policy.assertionAudienceIsIssuerString && payload.aud !== issuer) throw fail('client_assertion aud must be the issuer, as a string (FAPI 2.0)');
  // RFC 7523 §3 item 4: the server "MAY reject JWTs with an "exp" claim value that is unreasonably
  // far in the future".
  if (payload.exp! > now + MAX_ASSERTION_LIFETIME_SECONDS + tolerance) {
    throw fail(`client_assertion exp is more than ${MAX_ASSERTION_LIFETIME_SECONDS} s ahead`);
  }
  // RFC 7523 §3 item 6: the server "MAY reject JWTs with an "iat" claim value that is unreasonably far
  // in the past"; one in the future was not issued yet.
  if (payload.iat !== undefined && payload.iat > now + tolerance) throw fail('client_assertion iat is in the future');
  const jti = payload.jti;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) throw fail('client_assertion jti is not a usable string');
  // RFC 7523 §3 item 7: the server "MAY ensure that JWTs are not replayed by maintaining the set of
  // used "jti" values for the length of time for which the JWT would be considered valid". Here it
  // does, always (fosite CVE-2020-15222). Per client: jti values are unique only per issuer.
  // RFC 7519 §2: a NumericDate may have a fraction; the replay record keeps whole seconds, rounded up.
  const keepUntil = Math.ceil(payload.exp!) + tolerance;
  const fresh = await ctx.storage.replays.use('client_assertion', sha256(JSON.stringify([client.clientId, jti])), keepUntil);
  if (!fresh) throw fail('client_assertion jti was used before (replay)');
}

/** The client's registered keys: inline, or those at its jwks_uri (cached; RFC 8705 §2.2 uses them too). */
export async function clientJwks(ctx: ServerContext, client: Client): Promise<JSONWebKeySet> {
  if (client.jwks) return client.jwks;
  if (!client.jwksUri) return { keys: [] };
  return jwksCacheOf(ctx).keys(client.clientId, client.jwksUri);
}

/** Verifies against the client's inline keys, or the keys at its jwks_uri (one refetch on an unknown kid). */
async function verifyWithClientKeys(ctx: ServerContext, client: Client, assertion: string, options: JWTVerifyOptions) {
  if (client.jwks) return verifyWithKeySet(assertion, createLocalJWKSet(verificationKeys(client.jwks)), options);
  if (!client.jwksUri) throw new Error('the client has no keys registered');
  const cache = jwksCacheOf(ctx);
  const keys = await cache.keys(client.clientId, client.jwksUri);
  try {
    return await verifyWithKeySet(assertion, createLocalJWKSet(verificationKeys(keys)), options);
  } catch (err) {
    // The client may have rotated to a key published since the set was cached.
    if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
    const refreshed = await cache.refresh(client.clientId, client.jwksUri);
    if (!refreshed) throw err;
    return verifyWithKeySet(assertion, createLocalJWKSet(verificationKeys(refreshed)), options);
  }
}

/**
 * jwtVerify over a key set. Several keys may fit an assertion without a `kid` (a set mid-rotation):
 * jose then hands them over one by one, and the first whose signature checks wins.
 */
async function verifyWithKeySet(assertion: string, keys: JWTVerifyGetKey, options: JWTVerifyOptions): Promise<JWTVerifyResult> {
  try {
    return await jwtVerify(assertion, keys, options);
  } catch (err) {
    if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
    for await (const key of err as errors.JWKSMultipleMatchingKeys & AsyncIterable<CryptoKey>) {
      try {
        return await jwtVerify(assertion, key, options);
      } catch (inner) {
        if (!(inner instanceof errors.JWSSignatureVerificationFailed)) throw inner;
      }
    }
    throw new errors.JWSSignatureVerificationFailed();
  }
}
