import type { IssuerUrls } from '../config/issuer-urls.ts';
import type { PresentedCertificate } from '../mtls/client-certificate.ts';
import type { ServerContext } from '../context.ts';
import { checkRequestProof } from '../dpop/proofs.ts';
import { InsufficientScope, InvalidDpopProof, InvalidRequest, InvalidToken, UseDpopNonce } from '../errors.ts';
import { userinfoAudience } from '../grants/user-tokens.ts';
import { senderMatches } from '../tokens/confirmation.ts';
import { findOwnAccessToken } from '../tokens/find-own-token.ts';
import { userClaims } from '../users/claims.ts';

export interface UserinfoRequest {
  authorization: string | undefined;
  /** RFC 6750 §2.2: the form-encoded body's `access_token` (POST only). */
  bodyToken: string | undefined;
  /** The request method, for the DPoP proof's `htm`. */
  method: string;
  /** The `DPoP` header field values (RFC 9449 §7.1); undefined when there were none. */
  dpop: readonly string[] | undefined;
  /** The client certificate of the request (RFC 8705 §3), when one came. */
  certificate?: PresentedCertificate;
  /** The URLs the request was addressed to (the issuer's, or the mutual-TLS aliases'). */
  urls?: IssuerUrls;
}

/** No token at all: RFC 6750 §3.1 says the challenge then carries no error code. */
export class MissingBearerToken extends Error {}

/** How the token was presented: RFC 6750 Bearer (header or body) or RFC 9449 §7.1 DPoP. */
interface PresentedToken {
  scheme: 'bearer' | 'dpop';
  token: string;
}

/**
 * OIDC Core §5.3 UserInfo: the claims of the user the access token stands for, limited by its scopes.
 * The token must be one of ours, unexpired and unrevoked, carry `openid`, and be meant for this
 * endpoint (its `aud` names it). `sub` is the ID token's `sub` (docs/security.md J69). A DPoP-bound
 * token is accepted only with the DPoP scheme and a proof by its key (RFC 9449 §7).
 */
export async function userinfoEndpoint(ctx: ServerContext, request: UserinfoRequest): Promise<Record<string, unknown>> {
  const presented = presentedToken(request);
  const proofJkt = presented.scheme === 'dpop' ? await resourceProof(ctx, request, presented.token) : undefined;
  const found = await findOwnAccessToken(ctx, presented.token);
  if (!found) throw new InvalidToken('the access token is invalid, expired or revoked');
  const { claims } = found;
  const dpopBound = claims.cnf !== undefined && 'jkt' in claims.cnf;
  if (presented.scheme === 'dpop') {
    // RFC 9449 §7.1: the resource server checks "that the public key of the DPoP proof matches the
    // public key to which the access token is bound"; a token bound to nothing is not a DPoP token.
    if (!dpopBound || !senderMatches(claims.cnf!, { dpopJkt: proofJkt })) throw new InvalidToken('the access token is not bound to the key of the DPoP proof');
  } else if (dpopBound) {
    // RFC 9449 §7.2: a DPoP-bound access token presented as a bearer token is refused: whoever stole
    // it would otherwise need no key.
    throw new InvalidToken('the access token is DPoP-bound: present it with the DPoP scheme and a proof');
  }
  // RFC 8705 §3: the protected resource obtains the client certificate of the mutual-TLS connection
  // and checks that it is the one the access token is bound to.
  if (claims.cnf && 'x5t#S256' in claims.cnf && !senderMatches(claims.cnf, { certificateThumbprint: request.certificate?.thumbprint })) {
    throw new InvalidToken('the access token is bound to a client certificate this request did not present');
  }
  const audience = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audience.includes(userinfoAudience(ctx))) throw new InvalidToken('the access token is not meant for the userinfo endpoint');
  const scopes = (claims.scope ?? '').split(' ');
  if (!scopes.includes('openid')) throw new InsufficientScope('the access token lacks the openid scope', 'openid');
  const user = await ctx.storage.users.findById(claims.sub);
  if (!user || user.disabledAt !== null) throw new InvalidToken('the user is unknown or disabled');
  return { sub: user.id, ...userClaims(user, scopes) };
}

/** RFC 9449 §7.1: the proof of a DPoP-scheme request, for this method, this URL and this token. */
async function resourceProof(ctx: ServerContext, request: UserinfoRequest, token: string): Promise<string> {
  try {
    const proof = await checkRequestProof(ctx, { proof: request.dpop, method: request.method, url: (request.urls ?? ctx.urls).endpoint('userinfo'), accessToken: token });
    if (!proof) throw new InvalidDpopProof('the DPoP scheme requires a DPoP proof', 401);
    return proof.jkt;
  } catch (err) {
    // At a protected resource these are 401 with a DPoP challenge (RFC 9449 §7.1, §9).
    if (err instanceof UseDpopNonce && err.status !== 401) throw new UseDpopNonce(err.description, 401);
    if (err instanceof InvalidDpopProof && err.status !== 401) throw new InvalidDpopProof(err.description, 401);
    throw err;
  }
}

/**
 * RFC 6750 §2 and RFC 9449 §7.1: the token from the header (Bearer or DPoP, scheme matched without
 * regard to case) or the body (bearer only), not both.
 */
function presentedToken(request: UserinfoRequest): PresentedToken {
  const header = request.authorization;
  let fromHeader: PresentedToken | undefined;
  // RFC 6750 §3.1: a request with another authentication scheme (Basic, ...) carries no token, and
  // its challenge "SHOULD NOT include an error code".
  const scheme = header === undefined ? undefined : /^(bearer|dpop)(\s|$)/i.exec(header)?.[1]?.toLowerCase();
  if (header !== undefined && scheme !== undefined) {
    // RFC 9449 §7.1: the DPoP scheme carries the token in the token68 syntax, as Bearer does.
    const match = /^(?:bearer|dpop) +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
    if (!match) throw new InvalidToken('the Authorization header is not a well-formed token');
    fromHeader = { scheme: scheme as 'bearer' | 'dpop', token: match[1]! };
  }
  // RFC 6750 §2: "Clients MUST NOT use more than one method to transmit the token in each request."
  if (fromHeader !== undefined && request.bodyToken !== undefined) {
    throw new InvalidRequest('the access token was sent in more than one way');
  }
  if (fromHeader) return fromHeader;
  if (request.bodyToken === undefined) throw new MissingBearerToken();
  return { scheme: 'bearer', token: request.bodyToken };
}

/** Whether the request presents its token with the DPoP scheme (for the challenge of its errors). */
export function usesDpopScheme(authorization: string | undefined): boolean {
  return authorization !== undefined && /^dpop(\s|$)/i.test(authorization);
}
