import type { User } from '../storage/user-store.ts';

/**
 * OIDC Core §5.4: the claims each standard scope asks for, from what Latchkey knows of a user.
 * `profile`: name and preferred_username; `email`: email and email_verified (true once the user
 * followed a verification link sent to that address: users/email-links.ts).
 */
export function userClaims(user: User, scopes: readonly string[]): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  if (scopes.includes('profile')) {
    if (user.name !== null) claims.name = user.name;
    claims.preferred_username = user.username;
  }
  if (scopes.includes('email') && user.email !== null) {
    claims.email = user.email;
    claims.email_verified = user.emailVerified === true;
  }
  return claims;
}
