import { InvalidRequest, RegistryError } from '../errors.ts';
import type { FormParams } from '../lib/form-params.ts';
import type { Client, ClientProfile, IdTokenAlgorithm } from '../registry/types.ts';
import type { SenderProof } from '../tokens/confirmation.ts';

/**
 * The FAPI 2.0 Security Profile (OpenID Foundation, Final, February 2025), per client
 * (`clients create --profile fapi2`): the authorization server requirements of §5.3.2 and the
 * algorithms of §5.4.1 for the clients that have the profile. Everything else about the server stays
 * as it is for the other clients. What Latchkey already does for every client (PKCE with S256, `iss`
 * in every authorization response, single-use codes living 60 s, 303 redirects, code binding to a
 * DPoP key) is asserted by test/fapi2.test.ts rather than checked again here.
 */

/** The profiles a client may have: `default` (Latchkey's own rules) or `fapi2`. */
export const CLIENT_PROFILES: readonly ClientProfile[] = ['default', 'fapi2'];

export function isFapi2(client: Pick<Client, 'profile'>): boolean {
  return client.profile === 'fapi2';
}

/**
 * FAPI 2.0 §5.3.2.1 item 6: "shall authenticate clients using one of the following methods: MTLS as
 * specified in Section 2 of [RFC8705] [...] private_key_jwt as specified in Section 9 of [OIDC]".
 */
export const FAPI2_AUTH_METHODS: readonly string[] = ['private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'];

/**
 * FAPI 2.0 §5.4.1: when creating or processing JWTs, "use PS256, ES256, or EdDSA (using the Ed25519
 * variant) algorithms". `Ed25519` is RFC 9864's fully specified name of that variant; client keys
 * registered for EdDSA are Ed25519 keys only (client-auth/client-keys.ts).
 */
export const FAPI2_CLIENT_ASSERTION_ALGORITHMS: readonly string[] = ['PS256', 'ES256', 'EdDSA', 'Ed25519'];
/** The same list for DPoP proofs (§5.4.1 again); the proof's key is in its header, of any allowed type. */
export const FAPI2_DPOP_ALGORITHMS: readonly string[] = ['PS256', 'ES256', 'EdDSA'];

/**
 * FAPI 2.0 §5.3.2.1 item 13: "to accommodate clock offsets, shall accept JWTs with an iat or nbf
 * timestamp between 0 and 10 seconds in the future but shall reject JWTs with an iat or nbf timestamp
 * greater than 60 seconds in the future". Latchkey's own tolerance is 5 s; a FAPI client gets 10.
 */
export const FAPI2_CLOCK_TOLERANCE_SECONDS = 10;

/**
 * FAPI 2.0 §5.3.2.1 item 11: "shall issue authorization codes with a maximum lifetime of 60 seconds".
 * Latchkey's codes live AUTHORIZATION_CODE_TTL_SECONDS (60) for every client; test/fapi2.test.ts holds
 * the two together.
 */
export const FAPI2_MAX_CODE_LIFETIME_SECONDS = 60;

/**
 * FAPI 2.0 §5.3.2.2 item 12: "shall issue pushed authorization requests request_uri with expires_in
 * values of less than 600 seconds". LATCHKEY_PAR_TTL_SECONDS may be set to 600; a FAPI client's
 * request_uri lives at most 599.
 */
export const FAPI2_MAX_PAR_LIFETIME_SECONDS = 599;

/** What registration checks about a client of the profile: the parts of its record the rules name. */
type Registered = Pick<Client, 'type' | 'tokenEndpointAuthMethod' | 'redirectUris' | 'idTokenSignedResponseAlg' | 'source'>;

/**
 * The registration of a `fapi2` client, refused with a message that names the rule. Run on creation
 * and when an existing client is switched to the profile.
 */
export function checkFapi2Registration(client: Registered): void {
  const refuse = (message: string) => new RegistryError(`FAPI 2.0 profile: ${message}`, 'invalid');
  // The operator's decision only: a client that registered itself cannot claim the profile (the server
  // would then be vouching for a client nobody checked), README "FAPI 2.0 profile".
  if (client.source !== 'operator') throw refuse('only an operator can give a client this profile');
  // §5.3.2.1 item 3: "shall only support confidential clients as defined in [RFC6749]".
  if (client.type !== 'confidential') throw refuse('the client must be confidential (§5.3.2.1: confidential clients only)');
  // §5.3.2.1 item 6: MTLS (RFC 8705 §2) or private_key_jwt; never a shared secret.
  if (!FAPI2_AUTH_METHODS.includes(client.tokenEndpointAuthMethod)) {
    throw refuse(`the client must authenticate with ${FAPI2_AUTH_METHODS.join(', ')}, not ${client.tokenEndpointAuthMethod} (§5.3.2.1)`);
  }
  // §5.3.2.2 item 8: "shall not transmit authorization responses over unencrypted network connections,
  // and, to this end, shall not allow redirect URIs that use the "http" scheme except for native
  // clients that use Loopback Interface Redirection". A FAPI client is confidential, so it is no native
  // app on the user's machine: https only.
  const plain = client.redirectUris.find((uri) => !uri.startsWith('https://'));
  if (plain !== undefined) throw refuse(`redirect URIs must be https (§5.3.2.2), not ${JSON.stringify(plain.slice(0, 200))}`);
  // §5.4.1: "use PS256, ES256, or EdDSA": an RS256 ID token is refused (Latchkey signs ID tokens with
  // RS256 or ES256, so ES256).
  if (client.idTokenSignedResponseAlg !== 'ES256') {
    throw refuse(`ID tokens must be signed with ES256, not ${client.idTokenSignedResponseAlg} (§5.4.1: PS256, ES256 or EdDSA)`);
  }
}

/** The ID token algorithm a client gets when it names none: ES256 for the profile (§5.4.1), else RS256. */
export function defaultIdTokenAlgorithm(profile: ClientProfile): IdTokenAlgorithm {
  return profile === 'fapi2' ? 'ES256' : 'RS256';
}

/**
 * The algorithm an ID token of the client is signed with. FAPI 2.0 §5.4.1: never RS256 for a `fapi2`
 * client, whatever its record says (registration refuses RS256 already).
 */
export function idTokenAlgorithmFor(client: Pick<Client, 'profile' | 'idTokenSignedResponseAlg'>): IdTokenAlgorithm {
  return isFapi2(client) ? 'ES256' : client.idTokenSignedResponseAlg;
}

/**
 * A pushed authorization request of a `fapi2` client (the endpoint has authenticated it already).
 * FAPI 2.0 §5.3.2.2 item 6: "shall require the redirect_uri parameter in pushed authorization
 * requests" (Latchkey otherwise lets a client with one registered URI leave it out).
 */
export function checkFapi2PushedRequest(client: Client, params: FormParams): void {
  if (!isFapi2(client)) return;
  if (!params.has('redirect_uri')) throw new InvalidRequest('redirect_uri is required in the pushed authorization requests of this client (FAPI 2.0)');
}

/**
 * A token request of a `fapi2` client, after client authentication and the DPoP proof check.
 */
export function checkFapi2TokenRequest(client: Client, sender: SenderProof): void {
  if (!isFapi2(client)) return;
  // §5.3.2.1 item 6 (again at use: registration checks it, this keeps a changed record from slipping
  // through): "shall authenticate clients using one of the following methods: MTLS [...] private_key_jwt".
  if (!FAPI2_AUTH_METHODS.includes(client.tokenEndpointAuthMethod)) {
    throw new InvalidRequest('this client must authenticate with private_key_jwt or mutual TLS (FAPI 2.0)');
  }
  // §5.3.2.1 item 4: "shall only issue sender-constrained access tokens"; item 5: "shall use one of the
  // following methods for sender-constrained access tokens: MTLS as described in [RFC8705] [...] DPoP
  // as described in [RFC9449]". Every token request must bind its tokens to a DPoP key or a certificate.
  if (sender.dpopJkt === undefined && sender.certificateThumbprint === undefined) {
    throw new InvalidRequest('the tokens of this client must be sender-constrained: send a DPoP proof or use a client certificate (FAPI 2.0)');
  }
}

/**
 * FAPI 2.0 §5.3.2.1 item 9: "shall not use refresh token rotation except in extraordinary
 * circumstances". Latchkey rotates every client's refresh tokens (RFC 9700 §4.14.2), except a
 * `fapi2` client's: its refresh token stays the same until it expires or is revoked, and the refresh
 * response carries no new one.
 */
export function rotatesRefreshTokens(client: Pick<Client, 'profile'>): boolean {
  return !isFapi2(client);
}

/** What a client's JWTs (client assertions, DPoP proofs) are verified with: its profile's algorithms and clock tolerance. */
export interface JwtPolicy {
  clientAssertionAlgorithms: readonly string[] | undefined;
  dpopAlgorithms: readonly string[] | undefined;
  clockToleranceSeconds: number | undefined;
  /**
   * The audiences a client assertion may name. FAPI 2.0 §5.3.2.1 item 8: "shall only accept its
   * issuer identifier value (as defined in [RFC8414]) as a string in the aud claim received in client
   * authentication assertions". False: Latchkey's own rule (the issuer or the token endpoint).
   */
  assertionAudienceIsIssuerString: boolean;
}

/** The JWT policy of a client; undefined members mean Latchkey's defaults. */
export function jwtPolicyFor(client: Pick<Client, 'profile'>): JwtPolicy {
  if (!isFapi2(client)) {
    return { clientAssertionAlgorithms: undefined, dpopAlgorithms: undefined, clockToleranceSeconds: undefined, assertionAudienceIsIssuerString: false };
  }
  return {
    clientAssertionAlgorithms: FAPI2_CLIENT_ASSERTION_ALGORITHMS,
    dpopAlgorithms: FAPI2_DPOP_ALGORITHMS,
    clockToleranceSeconds: FAPI2_CLOCK_TOLERANCE_SECONDS,
    assertionAudienceIsIssuerString: true,
  };
}

/** The lifetime of a pushed request's request_uri for the client (§5.3.2.2 item 12). */
export function pushedRequestLifetimeSeconds(client: Pick<Client, 'profile'>, configured: number): number {
  return isFapi2(client) ? Math.min(configured, FAPI2_MAX_PAR_LIFETIME_SECONDS) : configured;
}
