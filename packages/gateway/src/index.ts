// @latchkey/gateway: an API gateway that validates Latchkey access tokens at the edge (through
// @latchkey/resource-server) and forwards each request to its upstream with claims, an exchanged
// token or the original token. The `latchkey-gateway` command (cli.ts) runs it from a file.
export { createGateway, type Gateway, type GatewayOptions } from './gateway.ts';
export { loadConfigFile, parseConfigText, type LoadedConfig } from './config/load.ts';
export { parseConfig, ConfigError, type ParseOptions } from './config/parse.ts';
export {
  GATEWAY_DEFAULTS,
  ROUTE_DEFAULTS,
  OWN_PATHS,
  SIGNING_ALGORITHMS,
  FORWARD_MODES,
  VALIDATION_MODES,
  type GatewayConfig,
  type RouteConfig,
  type ForwardConfig,
  type ForwardMode,
  type ValidationMode,
  type RateLimit,
  type SigningAlgorithm,
} from './config/defaults.ts';
export { GATEWAY_JWT_TYPE, type GatewayAssertion } from './lib/signing-key.ts';
export { identityHeaderNames } from './forward.ts';
