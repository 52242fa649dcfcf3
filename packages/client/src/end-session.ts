import type { ClientCore } from './lib/client-core.ts';

export interface EndSessionOptions {
  /** The user's ID token: Latchkey then logs out without asking. */
  idTokenHint?: string | undefined;
  /** Where the server sends the browser afterwards; registered with the client. */
  postLogoutRedirectUri?: string | undefined;
  state?: string | undefined;
}

/** OpenID Connect RP-Initiated Logout 1.0 §2: the URL to send the browser to, to end the user's session at the server. */
export async function endSessionUrl(core: ClientCore, options: EndSessionOptions = {}): Promise<string> {
  const url = new URL(await core.endpoint('end_session_endpoint', 'end_session'));
  const params = url.searchParams;
  if (options.idTokenHint !== undefined) params.set('id_token_hint', options.idTokenHint);
  if (options.postLogoutRedirectUri !== undefined) params.set('post_logout_redirect_uri', options.postLogoutRedirectUri);
  if (options.state !== undefined) params.set('state', options.state);
  params.set('client_id', core.clientId);
  return url.toString();
}
