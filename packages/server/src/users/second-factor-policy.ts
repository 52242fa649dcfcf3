import type { Settings } from '../config/defaults.ts';
import type { Client } from '../registry/types.ts';
import type { User } from '../storage/user-store.ts';

/**
 * Who must sign in with two factors (issue 15): everyone (LATCHKEY_REQUIRE_SECOND_FACTOR), a user the
 * operator marked (`users require-second-factor`), or the users of a client
 * (`clients update --require-second-factor`). A sign-in that must have two factors and has a password
 * only goes on to the second factor: the code of the user's authenticator app, or its setup.
 */
export function secondFactorRequired(settings: Pick<Settings, 'requireSecondFactor'>, user: Pick<User, 'secondFactorRequired'>, client?: Pick<Client, 'requireSecondFactor'>): boolean {
  return settings.requireSecondFactor || user.secondFactorRequired === true || client?.requireSecondFactor === true;
}

/**
 * Who must sign in with a passkey (phishing-resistant, acr `phr`): everyone (LATCHKEY_REQUIRE_PASSKEY)
 * or the users of a client (`clients update --require-passkey`). A sign-in without one goes on to the
 * user's passkey, or to adding one.
 */
export function passkeyRequired(settings: Pick<Settings, 'requirePasskey'>, client?: Pick<Client, 'requirePasskey'>): boolean {
  return settings.requirePasskey || client?.requirePasskey === true;
}
