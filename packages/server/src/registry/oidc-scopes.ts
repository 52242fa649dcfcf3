/**
 * The OpenID Connect scopes Latchkey serves (OIDC Core §3.1.2.1, §5.4, §11), built in: clients are
 * registered for them, resources can never register them, and they go to no API's audience.
 */
export const OIDC_SCOPE_DESCRIPTIONS: ReadonlyMap<string, string> = new Map([
  ['openid', 'Sign you in and know who you are'],
  ['profile', 'See your name and username'],
  ['email', 'See your email address'],
  ['offline_access', 'Stay signed in and act for you while you are away'],
]);

export const OIDC_SCOPES: ReadonlySet<string> = new Set(OIDC_SCOPE_DESCRIPTIONS.keys());
