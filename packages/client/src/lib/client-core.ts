import { createRemoteJWKSet, customFetch, type JWTVerifyGetKey } from 'jose';
import { discover, type ServerMetadata } from '../discovery.ts';
import { type Feature, IdTokenValidationError, UnsupportedFeatureError } from '../errors.ts';
import { validateIdToken, type IdTokenClaims, type IdTokenExpectations } from '../id-token.ts';
import type { ClientIdentity } from './client-auth.ts';
import { errorFromResponse, type FormParams, type Http, postForm, readJsonObject } from './http.ts';

/** The ID token algorithms the SDK verifies (OpenID Connect's default RS256, and ES256). */
export const ID_TOKEN_ALGORITHMS = ['RS256', 'ES256'] as const;
export type IdTokenAlgorithm = (typeof ID_TOKEN_ALGORITHMS)[number];

export interface ClientConfig {
  issuer: string;
  identity: ClientIdentity;
  http: Http;
  allowInsecureRequests: boolean;
  clockToleranceSeconds: number;
  /** Fixed by the application; else taken from the metadata. */
  idTokenAlgorithms: readonly IdTokenAlgorithm[] | undefined;
}

/** Endpoints of the metadata, by the feature that needs them. */
type EndpointMember =
  | 'authorization_endpoint'
  | 'token_endpoint'
  | 'revocation_endpoint'
  | 'introspection_endpoint'
  | 'device_authorization_endpoint'
  | 'end_session_endpoint';

/**
 * What every operation shares: the cached metadata and keys, authenticated form posts, and ID token
 * validation. Internal; the public face is LatchkeyClient.
 */
export class ClientCore {
  private metadataPromise: Promise<ServerMetadata> | undefined;
  private keys: JWTVerifyGetKey | undefined;

  readonly config: ClientConfig;

  constructor(config: ClientConfig) {
    this.config = config;
  }

  get issuer(): string {
    return this.config.issuer;
  }

  get clientId(): string {
    return this.config.identity.clientId;
  }

  /** The issuer's metadata, fetched once; a failed discovery is tried again on the next call. */
  metadata(): Promise<ServerMetadata> {
    this.metadataPromise ??= discover(this.config.issuer, { ...this.config.http, allowInsecureRequests: this.config.allowInsecureRequests }).catch(
      (err: unknown) => {
        this.metadataPromise = undefined;
        throw err;
      },
    );
    return this.metadataPromise;
  }

  /** The URL of an endpoint, or an UnsupportedFeatureError when the metadata has none. */
  async endpoint(member: EndpointMember, feature: Feature): Promise<string> {
    const metadata = await this.metadata();
    const url = metadata[member];
    if (typeof url !== 'string') {
      throw new UnsupportedFeatureError(feature, 'metadata', `${this.config.issuer} does not offer ${feature.replace(/_/g, ' ')}: its metadata has no ${member}`);
    }
    return url;
  }

  /** POSTs a form to an endpoint, with the client's authentication when `authenticate`. */
  post(url: string, params: FormParams, authenticate = true): Promise<Response> {
    return postForm(this.config.http, url, params, authenticate ? this.config.identity : undefined);
  }

  /** A token request (RFC 6749 §3.2): the JSON object of a 200 answer, else the OAuthError it carries. */
  async requestToken(params: FormParams): Promise<Record<string, unknown>> {
    const url = await this.endpoint('token_endpoint', 'token');
    const response = await this.post(url, params);
    if (response.status !== 200) throw await errorFromResponse(response, 'the token endpoint');
    return readJsonObject(response, 'the token endpoint');
  }

  /** Validates an ID token of this issuer for this client (id-token.ts). */
  async validateIdToken(
    idToken: string,
    expected: Pick<IdTokenExpectations, 'nonce' | 'accessToken' | 'maxAgeSeconds' | 'previous'>,
  ): Promise<IdTokenClaims> {
    const metadata = await this.metadata();
    return validateIdToken(idToken, this.jwks(metadata), {
      ...expected,
      issuer: this.config.issuer,
      clientId: this.clientId,
      algorithms: this.idTokenAlgorithms(metadata),
      clockToleranceSeconds: this.config.clockToleranceSeconds,
    });
  }

  private jwks(metadata: ServerMetadata): JWTVerifyGetKey {
    if (this.keys) return this.keys;
    if (typeof metadata.jwks_uri !== 'string') throw new IdTokenValidationError('jwks', `${this.config.issuer} publishes no jwks_uri`);
    // jose caches the set and fetches it again when a token names a kid it has not seen (key rotation).
    this.keys = createRemoteJWKSet(new URL(metadata.jwks_uri), {
      timeoutDuration: this.config.http.timeoutMs,
      [customFetch]: (url, init) => this.config.http.fetch(url, init),
    });
    return this.keys;
  }

  /**
   * The configured algorithms, else those of the metadata's `id_token_signing_alg_values_supported`
   * that the SDK verifies, else RS256 (OpenID Connect Discovery §3: the default).
   */
  private idTokenAlgorithms(metadata: ServerMetadata): readonly string[] {
    if (this.config.idTokenAlgorithms) return this.config.idTokenAlgorithms;
    const advertised = metadata.id_token_signing_alg_values_supported;
    if (!Array.isArray(advertised)) return ['RS256'];
    const usable = ID_TOKEN_ALGORITHMS.filter((alg) => advertised.includes(alg));
    if (usable.length === 0) throw new IdTokenValidationError('alg', `the server signs ID tokens with ${advertised.join(', ')}; the SDK verifies RS256 and ES256`);
    return usable;
  }
}
