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
  PROTECTED_RESOURCE_METADATA_DEFAULTS,
  type IssuerOptions,
  type ValidatorOptions,
  type IntrospectorOptions,
  type BearerAuthOptions,
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
  ConfigurationError,
  VALIDATION_CHECKS,
  type ValidationCheck,
} from './errors.ts';
export type { TokenVerifier } from './lib/bearer.ts';
export { createBearerAuth, type BearerAuth, type BearerRequest, type ErrorReply } from './core.ts';
export {
  protectedResourceMetadata,
  protectedResourceMetadataReply,
  resourceMetadataUrl,
  RESOURCE_METADATA_PATH,
  type ProtectedResourceMetadata,
  type MetadataReply,
} from './resource-metadata.ts';
