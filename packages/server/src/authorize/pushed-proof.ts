import type { ServerContext } from '../context.ts';
import { mac, macMatches } from '../lib/mac.ts';

/** The hidden field of the login and consent pages that proves their request was pushed. */
export const PAR_PROOF_PARAM = 'par_proof';

/**
 * How long the pages of a pushed request may take: as long as a login form (http/login-form.ts), so
 * a proof copied out of a page does not stand in for a pushed request for ever.
 */
export const PUSHED_PAGES_SECONDS = 30 * 60;

const LABEL = 'pushed-authorization-request';

/**
 * A pushed request's request_uri is used once at /authorize (RFC 9126 §4); its login and consent pages
 * then carry its parameters in hidden fields, validated again at every step like any request's. This
 * proof, an HMAC of exactly those parameters and a time limit under the server's MAC key, shows at each
 * step that the client pushed them, so `require_pushed_authorization_requests` holds through the pages
 * and a changed field is refused, without the spent request_uri or any stored state.
 */
export function pushedProof(ctx: Pick<ServerContext, 'macKey' | 'now'>, params: Record<string, string | readonly string[]>): string {
  const until = ctx.now() + PUSHED_PAGES_SECONDS;
  return `${until}.${mac(ctx.macKey, LABEL, `${until}\u0000${canonical(params)}`)}`;
}

/** Whether `proof` was made for exactly these parameters and has not expired. */
export function verifyPushedProof(ctx: Pick<ServerContext, 'macKey' | 'now'>, params: Record<string, string | readonly string[]>, proof: string): boolean {
  const match = /^(\d{1,12})\.([A-Za-z0-9_-]{1,100})$/.exec(proof);
  if (!match) return false;
  const until = Number(match[1]);
  if (until < ctx.now()) return false;
  return macMatches(ctx.macKey, LABEL, `${until}\u0000${canonical(params)}`, match[2]!);
}

/** One text for one set of parameters, whatever their order. */
function canonical(params: Record<string, string | readonly string[]>): string {
  return JSON.stringify(Object.keys(params).sort().map((k) => [k, params[k]]));
}
