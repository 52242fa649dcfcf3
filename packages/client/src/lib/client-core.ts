import * as oauth from 'oauth4webapi';
import { discover, type ServerMetadata } from '../discovery.ts';
import { type Feature, UnsupportedFeatureError } from '../errors.ts';
import { checkIdToken, type IdTokenClaims, type IdTokenExpectations } from '../id-token.ts';
import { toTokenSet, type TokenSet } from '../token-set.ts';
import { type ClientAuthMethod, clientAuthentication } from './client-auth.ts';
import type { DPoPKey } from './dpop.ts';
import { type Http, serverFetch } from './http.ts';
import { fromOAuth4WebApi, idTokenError } from './oauth-errors.ts';

/** The ID token algorithms the SDK accepts (OpenID Connect's default RS256, and ES256). */
export const ID_TOKEN_ALGORITHMS = ['RS256', 'ES256'] as const;
export type IdTokenAlgorithm = (typeof ID_TOKEN_ALGORITHMS)[number];

/** When to push the authorization request (RFC 9126) instead of sending it through the browser. */
export type ParMode = 'auto' | 'always' | 'never';

export interface ClientConfig {
  issuer: string;
  clientId: string;
  clientSecret: string | undefined;
  method: ClientAuthMethod;
  http: Http;
  allowInsecureRequests: boolean;
  clockToleranceSeconds: number;
  /** Fixed by the application; else taken from the metadata. */
  idTokenAlgorithms: readonly IdTokenAlgorithm[] | undefined;
  par: ParMode;
  /**
   * RFC 8705 §5: the client presents a certificate (the `mtls` option), so its requests go to the
   * server's `mtls_endpoint_aliases` where it names them.
   */
  mtls: boolean;
}

/** Endpoints of the metadata, by the feature that needs them. */
type EndpointMember =
  | 'authorization_endpoint'
  | 'token_endpoint'
  | 'revocation_endpoint'
  | 'introspection_endpoint'
  | 'device_authorization_endpoint'
  | 'end_session_endpoint'
  | 'pushed_authorization_request_endpoint';

/** What one protocol step gets: the server as oauth4webapi knows it, and the options for its request. */
export interface Step {
  as: oauth.AuthorizationServer;
  client: oauth.Client;
  auth: oauth.ClientAuth;
  /** oauth4webapi's request options: the SDK's fetch, the DPoP handle when DPoP is on. */
  options: oauth.TokenEndpointRequestOptions & { DPoP?: oauth.DPoPHandle };
  /** The same without DPoP, for GET requests (the JWKS). */
  getOptions: oauth.ValidateSignatureOptions;
}

/** How a token response is read: the oauth4webapi processing function and the ID token checks that follow. */
export interface TokenResponseReader {
  process(as: oauth.AuthorizationServer, client: oauth.Client, response: Response): Promise<oauth.TokenEndpointResponse>;
  /** The SDK's checks beyond oauth4webapi's; undefined: the ID token is only validated, with no expectations. */
  idToken?: Pick<IdTokenExpectations, 'nonce' | 'maxAgeSeconds' | 'previous'> | undefined;
}

/**
 * What every operation shares: the cached metadata, the client as oauth4webapi sees it, its
 * authentication, the DPoP key, and the error mapping. Internal; the public face is LatchkeyClient.
 */
export class ClientCore {
  private discovered: Promise<{ metadata: ServerMetadata; as: oauth.AuthorizationServer }> | undefined;

  readonly config: ClientConfig;
  readonly dpop: DPoPKey | undefined;
  /** oauth4webapi's view of this client; the clock tolerance applies to every JWT it checks. */
  readonly client: oauth.Client;
  readonly auth: oauth.ClientAuth;

  constructor(config: ClientConfig, dpop: (client: oauth.Client) => DPoPKey | undefined) {
    this.config = config;
    this.client = {
      client_id: config.clientId,
      [oauth.clockTolerance]: config.clockToleranceSeconds,
      ...(config.mtls ? { use_mtls_endpoint_aliases: true } : {}),
    };
    this.auth = clientAuthentication(config.method, config.clientSecret);
    this.dpop = dpop(this.client);
  }

  get issuer(): string {
    return this.config.issuer;
  }

  get clientId(): string {
    return this.config.clientId;
  }

  /** The issuer's metadata, fetched once; a failed discovery is tried again on the next call. */
  async metadata(): Promise<ServerMetadata> {
    return (await this.server()).metadata;
  }

  private server(): Promise<{ metadata: ServerMetadata; as: oauth.AuthorizationServer }> {
    this.discovered ??= discover(this.config.issuer, { ...this.config.http, allowInsecureRequests: this.config.allowInsecureRequests }).then(
      (metadata) => ({ metadata, as: this.authorizationServer(metadata) }),
      (err: unknown) => {
        this.discovered = undefined;
        throw err;
      },
    );
    return this.discovered;
  }

  /**
   * The server as oauth4webapi sees it: the metadata, with the ID token algorithms narrowed to those
   * the SDK accepts (oauth4webapi accepts an ID token `alg` only from this list). One object for the
   * life of the client: oauth4webapi caches the JWKS per object.
   */
  private authorizationServer(metadata: ServerMetadata): oauth.AuthorizationServer {
    const advertised = metadata.id_token_signing_alg_values_supported;
    const algorithms =
      this.config.idTokenAlgorithms ??
      // OpenID Connect Discovery §3: without the member, RS256.
      (Array.isArray(advertised) ? ID_TOKEN_ALGORITHMS.filter((alg) => advertised.includes(alg)) : ['RS256']);
    return { ...(metadata as oauth.AuthorizationServer), id_token_signing_alg_values_supported: [...algorithms] };
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

  /**
   * One request to the server through oauth4webapi, its response read by `process`. With DPoP, a
   * `use_dpop_nonce` answer is retried exactly once, with the nonce it carried (RFC 9449 §8: "the
   * client MUST ... retry the request with the new nonce"); a second one is the server's error.
   * Every error becomes the SDK's.
   */
  async call<T>(
    what: string,
    send: (step: Step) => Promise<Response>,
    process: (step: Step, response: Response) => Promise<T>,
    options: { dpop?: boolean } = {},
  ): Promise<T> {
    const { as } = await this.server();
    const dpop = options.dpop === false ? undefined : await this.dpop?.handle();
    const step: Step = { as, client: this.client, auth: this.auth, options: this.requestOptions(dpop), getOptions: { [oauth.customFetch]: serverFetch(this.config.http), [oauth.allowInsecureRequests]: true } };
    try {
      try {
        return await process(step, await send(step));
      } catch (err) {
        if (dpop === undefined || !oauth.isDPoPNonceError(err)) throw err;
        return await process(step, await send(step));
      }
    } catch (err) {
      throw await fromOAuth4WebApi(err, what);
    }
  }

  /** oauth4webapi's options for a request to the server. */
  requestOptions(dpop?: oauth.DPoPHandle): Step['options'] {
    return {
      [oauth.customFetch]: serverFetch(this.config.http),
      // discover() has held the issuer and every endpoint to https, or http on loopback unless the
      // application allowed it by name: oauth4webapi's own https-only rule would refuse loopback.
      [oauth.allowInsecureRequests]: true,
      ...(dpop ? { DPoP: dpop } : {}),
    };
  }

  /**
   * A token request (RFC 6749 §3.2) and its response as a TokenSet: oauth4webapi checks the response and
   * the ID token's claims (OIDC Core §3.1.3.7), then the SDK checks the ID token's signature against
   * the server's JWKS and what oauth4webapi leaves to the client (id-token.ts).
   */
  async requestTokens(what: string, send: (step: Step) => Promise<Response>, reader: TokenResponseReader): Promise<TokenSet> {
    return this.call(what, send, async (step, response) => {
      let json: oauth.TokenEndpointResponse;
      let idTokenClaims: IdTokenClaims | undefined;
      try {
        json = await reader.process(step.as, step.client, response);
        if (json.id_token !== undefined) {
          idTokenClaims = await checkIdToken(step, response, json, { ...reader.idToken, clientId: this.clientId, issuer: this.issuer, clockToleranceSeconds: this.config.clockToleranceSeconds });
        }
      } catch (err) {
        throw idTokenError(err) ?? err;
      }
      return toTokenSet(json, idTokenClaims, this.dpop !== undefined, what);
    });
  }
}
