import { audienceList, typedClaims, type AccessTokenClaims } from './claims.ts';
import { VALIDATOR_DEFAULTS, type IntrospectorOptions } from './defaults.ts';
import { IntrospectionUnavailableError, TokenValidationError } from './errors.ts';
import { isObject, readJson } from './lib/http.ts';
import { IntrospectionCache } from './lib/introspection-cache.ts';
import { MetadataSource } from './lib/metadata.ts';
import { resolveIntrospectorOptions, type ResolvedIntrospectorOptions } from './lib/options.ts';

export interface Introspector {
  readonly issuer: string;
  /**
   * Asks the issuer about a token (RFC 7662), or answers from the short cache of active results.
   * Resolves to its claims; rejects with a {@link TokenValidationError} (`check` is `inactive` for
   * `{"active": false}`) or an {@link IntrospectionUnavailableError} when the issuer cannot answer.
   */
  introspect(token: string): Promise<AccessTokenClaims>;
}

/**
 * An introspector for opaque tokens (`lko_...`) or routes that must see revocations quickly. It posts
 * to the metadata's `introspection_endpoint` as a client registered with `--introspect-for` this API.
 *
 * @example
 * const introspector = createIntrospector({ issuer, clientId, clientSecret, cacheSeconds: 5 });
 * const claims = await introspector.introspect(token);
 */
export function createIntrospector(options: IntrospectorOptions): Introspector {
  const config = resolveIntrospectorOptions(options);
  const metadata = new MetadataSource(config);
  const cache = new IntrospectionCache(config.cacheSeconds);
  return {
    issuer: config.issuer,
    async introspect(token) {
      if (typeof token !== 'string' || token === '') throw new TokenValidationError('malformed', 'the token is not a string');
      // Never sent anywhere when oversized: the same cap as the validator's.
      if (token.length > config.maxTokenLength) throw new TokenValidationError('size', `longer than ${config.maxTokenLength} characters`);
      const cached = cache.get(token);
      config.onCacheLookup(cached !== undefined);
      if (cached) return cached;
      const claims = activeClaims(config, await post(config, metadata, token));
      cache.set(token, claims);
      return claims;
    },
  };
}

/** RFC 7662 §2.1 request, with RFC 6749 §2.3.1 HTTP Basic client authentication. */
async function post(config: ResolvedIntrospectorOptions, metadata: MetadataSource, token: string): Promise<Record<string, unknown>> {
  let body: unknown;
  try {
    const endpoint = await metadata.endpoint('introspection_endpoint');
    const response = await config.fetch(endpoint, {
      method: 'POST',
      headers: {
        authorization: basicAuthorization(config.clientId, config.clientSecret),
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      redirect: 'manual',
      signal: AbortSignal.timeout(config.httpTimeoutSeconds * 1000),
    });
    body = await readJson(response, `POST ${endpoint}`);
  } catch (cause) {
    throw new IntrospectionUnavailableError(`introspection at ${config.issuer} failed: ${(cause as Error).message}`, { cause });
  }
  if (!isObject(body) || typeof body.active !== 'boolean') {
    throw new IntrospectionUnavailableError('the introspection response has no boolean "active"');
  }
  return body;
}

/**
 * RFC 6749 §2.3.1: "The client identifier is encoded using the application/x-www-form-urlencoded
 * encoding algorithm, and the encoded value is used as the username; the client password is encoded
 * using the same algorithm and used as the password."
 */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const encode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

/** RFC 7662 §2.2: an active response's claims, checked like a JWT's: issuer, audience, token type, types. */
function activeClaims(config: ResolvedIntrospectorOptions, response: Record<string, unknown>): AccessTokenClaims {
  if (response.active !== true) throw new TokenValidationError('inactive');
  if (response.iss !== undefined && response.iss !== config.issuer) throw new TokenValidationError('issuer', 'iss is not the configured issuer');
  if (config.audience !== undefined && !audienceList(response.aud)?.includes(config.audience)) {
    throw new TokenValidationError('audience', 'aud does not name this resource');
  }
  // RFC 7662 §2.2 token_type (RFC 6749 §7.1): a refresh token is not an access token. RFC 9449 §6.2:
  // a DPoP-bound one is `DPoP`, with its `cnf.jkt` (checked with the request's proof by the middleware).
  if (response.token_type !== undefined && (typeof response.token_type !== 'string' || !['bearer', 'dpop'].includes(response.token_type.toLowerCase()))) {
    throw new TokenValidationError('typ', 'token_type is not Bearer or DPoP');
  }
  // RFC 7662 §2.2 exp and nbf, when the issuer sends them: held to the validator's default leeway.
  const now = Math.floor(Date.now() / 1000);
  if (typeof response.exp === 'number' && response.exp <= now - VALIDATOR_DEFAULTS.clockToleranceSeconds) throw new TokenValidationError('expired');
  if (typeof response.nbf === 'number' && response.nbf > now + VALIDATOR_DEFAULTS.clockToleranceSeconds) throw new TokenValidationError('not_yet_valid');
  // RFC 9470 §6.2: "acr" and "auth_time" (and "amr") of an introspection response are the token's
  // authentication context, typed and mapped as a JWT's are, for requireAcr and requireAuthTime.
  return typedClaims({ iss: config.issuer, ...response });
}
