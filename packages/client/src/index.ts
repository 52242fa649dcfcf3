export { LatchkeyClient, type LatchkeyClientOptions } from './client.ts';
export type { AuthorizationRequestOptions, CallbackExpectations, PendingAuthorization } from './authorization-code.ts';
export type { RefreshOptions } from './refresh.ts';
export { TokenSession, type TokenSessionOptions } from './token-session.ts';
export { ClientCredentials, type ClientCredentialsOptions, type ClientCredentialsRequest } from './client-credentials.ts';
export { DEVICE_CODE_GRANT_TYPE, type DeviceAuthorization, type DeviceAuthorizationOptions, type PollOptions } from './device-authorization.ts';
export { TOKEN_EXCHANGE_GRANT_TYPE, TOKEN_TYPES, type ExchangedToken, type TokenExchangeRequest } from './token-exchange.ts';
export type { RevokeOptions } from './revocation.ts';
export type { IntrospectionResponse, IntrospectOptions } from './introspection.ts';
export type { EndSessionOptions } from './end-session.ts';
export { discover, metadataUrls, type DiscoverOptions, type ServerMetadata } from './discovery.ts';
export type { IdTokenClaims } from './id-token.ts';
export { stepUpChallenge, INSUFFICIENT_USER_AUTHENTICATION } from './step-up.ts';
export type { TokenSet } from './token-set.ts';
export { LogoutTokenValidator, BACKCHANNEL_LOGOUT_EVENT, type LogoutTokenClaims } from './backchannel-logout.ts';
export { createBff, sendBffResponse, appendSetCookie, toResponse, type Bff, type BffOptions, type BffLoginOptions, type BffRequest, type BffResponse, type BffAccessToken, type BffBackchannelRequest } from './bff.ts';
export type { ClientAuthMethod } from './lib/client-auth.ts';
export type { IdTokenAlgorithm, ParMode } from './lib/client-core.ts';
export type { DPoPOption, DPoPKeyOptions } from './lib/dpop.ts';
export type { FetchLike } from './lib/http.ts';
export type { MtlsOptions } from './lib/mtls.ts';
export type { RetryOptions } from './lib/retry.ts';
export type { CookieKey } from './lib/sealed-cookie.ts';
export { DEFAULTS } from './defaults.ts';
export {
  LatchkeyClientError,
  OAuthError,
  AuthorizationResponseError,
  DiscoveryError,
  IdTokenValidationError,
  StateMismatchError,
  IssuerMismatchError,
  InvalidResponseError,
  NetworkError,
  UnsupportedFeatureError,
  DeviceCodeExpiredError,
  SessionExpiredError,
  StepUpRequiredError,
  LogoutTokenError,
  type OAuthErrorFields,
  type IdTokenCheck,
  type Feature,
} from './errors.ts';
