// @latchkey/resource-server: verify Latchkey access tokens in an API. The middleware lives in the
// subpaths ./fastify, ./express and ./fetch, so this entry needs no web framework.
export { createValidator, type Validator } from './validator.ts';
export { createIntrospector, type Introspector } from './introspector.ts';
export type { AccessTokenClaims } from './claims.ts';
export {
  ISSUER_DEFAULTS,
  VALIDATOR_DEFAULTS,
  INTROSPECTOR_DEFAULTS,
  BEARER_AUTH_DEFAULTS,
  DPOP_DEFAULTS,
  PROTECTED_RESOURCE_METADATA_DEFAULTS,
  type IssuerOptions,
  type ValidatorOptions,
  type IntrospectorOptions,
  type BearerAuthOptions,
  type DpopMode,
  type DpopOptions,
  type ProtectedResourceMetadataOptions,
} from './defaults.ts';
export {
  ResourceServerError,
  TokenValidationError,
  JwksUnavailableError,
  IntrospectionUnavailableError,
  MissingTokenError,
  InvalidRequestError,
  InsufficientScopeError,
  InsufficientUserAuthenticationError,
  InvalidDpopProofError,
  UseDpopNonceError,
  ConfigurationError,
  VALIDATION_CHECKS,
  type ValidationCheck,
} from './errors.ts';
export type { AuthenticationRequirements, TokenVerifier } from './lib/bearer.ts';
export { createBearerAuth, type BearerAuth, type BearerRequest, type ErrorReply } from './core.ts';
export { certificateThumbprint, parseClientCertHeader, peerCertificate } from './lib/binding.ts';
export {
  protectedResourceMetadata,
  protectedResourceMetadataReply,
  resourceMetadataUrl,
  RESOURCE_METADATA_PATH,
  type ProtectedResourceMetadata,
  type MetadataReply,
} from './resource-metadata.ts';
export {
  checkDpopProof,
  accessTokenHash,
  createDpopNonces,
  createMemoryReplayCache,
  DpopProofError,
  DPOP_DEFAULT_ALGORITHMS,
  DPOP_PROOF_TYP,
  type DpopProof,
  type DpopProofCheckOptions,
  type DpopNonceSource,
  type DpopReplayCheck,
} from './dpop.ts';
