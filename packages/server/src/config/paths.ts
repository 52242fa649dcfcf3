/** Endpoint paths under the issuer. */
export const PATHS = {
  authorization: '/authorize',
  token: '/token',
  introspection: '/introspect',
  revocation: '/revoke',
  jwks: '/jwks',
  userinfo: '/userinfo',
  endSession: '/logout',
  login: '/login',
  consent: '/consent',
  deviceAuthorization: '/device_authorization',
  device: '/device',
  registration: '/register',
} as const;

export type EndpointName = keyof typeof PATHS;
