/** How the client authenticates at the token, revocation and introspection endpoints. */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

export interface ClientIdentity {
  clientId: string;
  clientSecret: string | undefined;
  method: ClientAuthMethod;
}

/** Adds the client's authentication to a form request, by its method. */
export function applyClientAuth(identity: ClientIdentity, body: URLSearchParams, headers: Headers): void {
  switch (identity.method) {
    case 'client_secret_basic':
      headers.set('authorization', basicCredentials(identity.clientId, identity.clientSecret ?? ''));
      return;
    case 'client_secret_post':
      // RFC 6749 §2.3.1: client_id and client_secret in the request body.
      body.set('client_id', identity.clientId);
      body.set('client_secret', identity.clientSecret ?? '');
      return;
    case 'none':
      // RFC 6749 §3.2.1: a public client identifies itself with client_id (and proves itself with PKCE).
      body.set('client_id', identity.clientId);
      return;
  }
}

/**
 * RFC 6749 §2.3.1: "The client identifier is encoded using the application/x-www-form-urlencoded
 * encoding algorithm per Appendix B, and the encoded value is used as the username; the client
 * password is encoded using the same algorithm and used as the password."
 */
export function basicCredentials(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`, 'utf8').toString('base64')}`;
}

/** The application/x-www-form-urlencoded encoding of one value (spaces as `+`, `:` as `%3A`). */
function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}
