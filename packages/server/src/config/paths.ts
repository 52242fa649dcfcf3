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
  loginOtp: '/login/otp',
  loginOtpSetup: '/login/otp/setup',
  loginPasskey: '/login/passkey',
  loginPasskeyStep: '/login/passkey/required',
  forgotPassword: '/login/forgot',
  resetPassword: '/login/reset',
  signup: '/signup',
  account: '/account',
  consent: '/consent',
  deviceAuthorization: '/device_authorization',
  device: '/device',
  registration: '/register',
  pushedAuthorization: '/par',
} as const;

export type EndpointName = keyof typeof PATHS;
