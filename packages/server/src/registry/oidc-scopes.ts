/**
 * The OpenID Connect scopes Latchkey serves (OIDC Core §3.1.2.1, §5.4, §11), built in: clients are
 * registered for them, resources can never register them, and they go to no API's audience. The
 * consent page describes each in the user's language (i18n messages `scope.*`).
 */
export const OIDC_SCOPES: ReadonlySet<string> = new Set(['openid', 'profile', 'email', 'offline_access']);
