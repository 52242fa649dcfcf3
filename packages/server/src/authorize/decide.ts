import type { ServerContext } from '../context.ts';
import { ConsentRequired, InteractionRequired, LoginRequired } from '../errors.ts';
import { stepUpNeeded } from '../users/authentication-context.ts';
import { acrOf, ACR } from '../users/authentication-context.ts';
import { passkeyRequired, secondFactorRequired } from '../users/second-factor-policy.ts';
import type { Client } from '../registry/types.ts';
import type { Session } from '../storage/session-store.ts';
import { AuthorizationRedirectError, type AuthorizationRequest } from './authorization-request.ts';
import { authorizationResponseUrl } from './authorization-response.ts';
import { issueAuthorizationCode } from './issue-code.ts';

/** What the browser sees next. */
export type NextStep =
  | { step: 'login' }
  /** `acr_values` asks for two factors and the user has only a password: set up an authenticator app. */
  | { step: 'second-factor' }
  /** `acr_values` asks for `phr`, or a policy for a passkey: use one (or add one). */
  | { step: 'passkey' }
  | { step: 'consent' }
  /** Back to the client, with a code or an error. */
  | { step: 'redirect'; location: string };

/**
 * The authorization endpoint's decision once the request is valid (OIDC Core §3.1.2.3-§3.1.2.5):
 * log in when there is no session, when `prompt=login` asks for it, or when the last login is older
 * than `max_age`; ask for consent when the client is not first-party and the user has not allowed
 * these scopes before (or `prompt=consent`: needsConsent); otherwise issue the code. `prompt=none` never shows a
 * page: it answers `login_required` or `consent_required` instead. `justLoggedIn` is set right after
 * the login form, whose login satisfies `prompt=login` and `max_age`.
 */
export async function decideNextStep(
  ctx: ServerContext,
  request: AuthorizationRequest,
  session: Session | undefined,
  justLoggedIn: boolean,
): Promise<NextStep> {
  const prompt = request.prompt;
  if (!session || (!justLoggedIn && needsFreshLogin(request, session, ctx.now()))) {
    // docs/security.md A15: prompt=none without a (fresh enough) session is login_required, without any page.
    if (prompt.has('none')) throw redirectError(request, new LoginRequired('the user is not logged in'));
    return { step: 'login' };
  }
  // OIDC Core §3.1.2.1 acr_values, or a policy: two factors wanted from a password-only sign-in. A user
  // with an authenticator app always signs in with it (users/sessions.ts), so this user has none yet:
  // they set one up now, which completes the sign-in with two factors (http/browser-routes.ts).
  const due = await authenticationDue(ctx, request, session);
  if (due) {
    if (prompt.has('none')) throw redirectError(request, new InteractionRequired(due === 'passkey' ? 'the sign-in needs a passkey' : 'the sign-in needs a second factor'));
    return { step: due };
  }
  if (await needsConsent(ctx, request, session)) {
    if (prompt.has('none')) throw redirectError(request, new ConsentRequired('the user has not allowed these scopes'));
    return { step: 'consent' };
  }
  return { step: 'redirect', location: await approve(ctx, request, session) };
}

/**
 * Whether this request may not be answered with a code from this sign-in yet: its acr_values ask for
 * two factors, or the policy does, and the sign-in has a password only. Checked by every step that
 * can issue a code (decideNextStep, the consent page, approve).
 */
export async function secondFactorDue(ctx: ServerContext, request: AuthorizationRequest, session: Session): Promise<boolean> {
  return (await authenticationDue(ctx, request, session)) !== undefined;
}

/**
 * What the sign-in must add before this request is answered: a passkey (acr_values `phr`, or the
 * passkey policy), a second factor (acr_values, or the two-factor policy), or nothing.
 */
export async function authenticationDue(ctx: ServerContext, request: AuthorizationRequest, session: Session): Promise<'passkey' | 'second-factor' | undefined> {
  const hasPasskeySignIn = acrOf(session.amr) === ACR.phishingResistant;
  if (!hasPasskeySignIn && passkeyRequired(ctx.settings, request.client)) return 'passkey';
  const stepUp = stepUpNeeded(request.acrValues, session.amr);
  if (stepUp) return stepUp;
  return (await policyNeedsSecondFactor(ctx, request, session)) ? 'second-factor' : undefined;
}

/** A password-only sign-in where the global, user or client policy wants two factors (users/second-factor-policy.ts). */
async function policyNeedsSecondFactor(ctx: ServerContext, request: AuthorizationRequest, session: Session): Promise<boolean> {
  if (session.amr.includes('mfa')) return false;
  const user = await ctx.storage.users.findById(session.userId);
  return user !== undefined && secondFactorRequired(ctx.settings, user, request.client);
}

/**
 * OIDC Core §3.1.2.1: `prompt=login` asks for a login during this request, and `max_age` for one no
 * older than that many seconds. The login form proves the first (browser-routes.ts, login proof).
 */
export function needsFreshLogin(request: AuthorizationRequest, session: Session, now: number): boolean {
  return request.prompt.has('login') || (request.maxAge !== undefined && session.authTime + request.maxAge < now);
}

/**
 * docs/security.md L77: a client that registered itself (RFC 7591, a client ID metadata document) is
 * an unverified application, never first-party, whatever its row says.
 */
export function isFirstParty(client: Client): boolean {
  return client.firstParty && client.source === 'operator';
}

/**
 * Whether a consent to this request may be remembered, and a remembered one used. One consent per
 * client and user, for unverified clients too, as long as the client's identity is assured by where
 * the code goes: RFC 8252 §8.6, "the authorization server SHOULD NOT process authorization requests
 * automatically without user consent or interaction, except when the identity of the client can be
 * assured". An unverified client's code sent to an https redirect URI reaches only that host; one sent
 * to a loopback address or a private-use scheme reaches any program on the user's machine that says it
 * is the client, so the user is asked every time. A remembered consent is forgotten whenever the
 * client's registration changes (storage/client-store.ts, replace).
 */
function consentRemembered(request: AuthorizationRequest): boolean {
  return request.client.source === 'operator' || request.redirectUri.startsWith('https://');
}

/**
 * Whether the consent page must be shown: never for a first-party client; otherwise when
 * `prompt=consent` asks, when the consent cannot be remembered (consentRemembered), or when a scope was
 * not allowed before.
 */
export async function needsConsent(ctx: ServerContext, request: AuthorizationRequest, session: Session): Promise<boolean> {
  if (isFirstParty(request.client)) return false;
  if (request.prompt.has('consent') || !consentRemembered(request)) return true;
  const allowed = new Set(await ctx.storage.consents.find(session.userId, request.client.clientId));
  // A scope not allowed before asks again.
  return request.scope.some((s) => !allowed.has(s));
}

/**
 * The user allowed the request on the consent page: the consent is remembered where it may be (the
 * client will not ask again for these scopes while its registration stays as it is), and the code
 * issued.
 */
export async function consentGiven(ctx: ServerContext, request: AuthorizationRequest, session: Session): Promise<string> {
  if (!isFirstParty(request.client) && consentRemembered(request)) {
    await ctx.storage.consents.remember(session.userId, request.client.clientId, request.scope, ctx.now());
  }
  return approve(ctx, request, session);
}

/** Issues the code and returns the URL that carries it back to the client. */
export async function approve(ctx: ServerContext, request: AuthorizationRequest, session: Session): Promise<string> {
  // Whatever page led here: no code for a sign-in that still owes its second factor.
  if (await secondFactorDue(ctx, request, session)) throw redirectError(request, new InteractionRequired('the sign-in needs a second factor'));
  const code = await issueAuthorizationCode(ctx, request, session);
  return authorizationResponseUrl(request.redirectUri, ctx.settings.issuer, request.state, { code });
}

function redirectError(request: AuthorizationRequest, error: ConsentRequired | InteractionRequired | LoginRequired): AuthorizationRedirectError {
  return new AuthorizationRedirectError({ redirectUri: request.redirectUri, state: request.state }, error);
}
