import type { UserView } from '../users/user-registry.ts';
import { UserRegistry } from '../users/user-registry.ts';
import { print, requirePositional, requireString, UsageError, type CommandArgs } from './io.ts';
import { readPassword } from './password-input.ts';
import { databaseWords, withContext } from './with-context.ts';
import { inviteUser } from '../users/signup.ts';

const iso = (seconds: number | null) => (seconds === null ? null : new Date(seconds * 1000).toISOString());

export async function usersCommand(args: CommandArgs): Promise<number> {
  const sub = args.positionals[0];
  return withContext(args, async (ctx) => {
    const users = new UserRegistry(ctx.storage);
    switch (sub) {
      case 'create': {
        const username = requireString(args.values, 'username');
        const password = await readPassword(`password for ${username}: `);
        const user = await users.create({
          username,
          email: typeof args.values.email === 'string' ? args.values.email : undefined,
          name: typeof args.values.name === 'string' ? args.values.name : undefined,
          password,
        });
        print(args, userJson(user), `created user ${user.username}\n${userText(user)}`);
        return 0;
      }
      case 'invite': {
        const email = requirePositional(args.positionals, 'the email address');
        const raw = args.values['expires-in'];
        const expires = raw === undefined ? undefined : Number(raw);
        if (expires !== undefined && (!/^\d+$/.test(String(raw)) || !Number.isSafeInteger(expires))) throw new UsageError('--expires-in takes whole seconds');
        const invitation = await inviteUser(ctx, email, expires);
        print(
          args,
          { email: invitation.email, link: invitation.link, expires_at: iso(invitation.expiresAt), mailed: invitation.mailed },
          `invitation for ${invitation.email}, until ${iso(invitation.expiresAt)}${invitation.mailed ? ' (mailed: a running server sends it)' : ''}:\n${invitation.link}\nThe link works once; only its hash is kept.`,
        );
        return 0;
      }
      case 'list': {
        const all = await users.list();
        print(
          args,
          { users: all.map(userJson) },
          all.length ? all.map((u) => `${u.username.padEnd(24)} ${u.disabledAt === null ? 'active  ' : 'disabled'} ${u.name ?? ''}`).join('\n') : `no users in ${databaseWords(ctx)}`,
        );
        return 0;
      }
      case 'show': {
        const user = await users.get(requirePositional(args.positionals, 'the username'));
        print(args, userJson(user), userText(user));
        return 0;
      }
      case 'disable':
      case 'enable': {
        const username = requirePositional(args.positionals, 'the username');
        await (sub === 'disable' ? users.disable(username) : users.enable(username));
        print(args, { username, disabled: sub === 'disable' }, `${sub}d user ${username}`);
        return 0;
      }
      case 'revoke': {
        const username = requirePositional(args.positionals, 'the username');
        const ended = await users.signOutEverywhere(username);
        print(
          args,
          { username, sessions_ended: ended.sessions, grants_revoked: ended.grants },
          `signed ${username} out everywhere: ${ended.sessions} session(s) ended, ${ended.grants} grant(s) revoked (their refresh and access tokens no longer work)`,
        );
        return 0;
      }
      case 'set-password': {
        const username = requirePositional(args.positionals, 'the username');
        await users.get(username);
        await users.setPassword(username, await readPassword(`new password for ${username}: `));
        print(args, { username, password_changed: true }, `changed the password of ${username}`);
        return 0;
      }
      case 'require-second-factor': {
        const username = requirePositional(args.positionals, 'the username');
        const required = args.values.off !== true;
        const result = await users.requireSecondFactor(username, required);
        print(
          args,
          { username, second_factor_required: required, sessions_ended: result.sessions },
          required
            ? `${username} must sign in with two factors; ${result.sessions} password-only session(s) ended; without an authenticator app the next sign-in sets one up`
            : `${username} no longer must sign in with two factors (an authenticator app, if on, is still asked for)`,
        );
        return 0;
      }
      case 'factors': {
        const factors = await users.factors(requirePositional(args.positionals, 'the username'));
        const totp = factors.totp;
        const state = totp === null ? 'none' : totp.confirmedAt === null ? `being set up since ${iso(totp.createdAt)}` : `on since ${iso(totp.confirmedAt)}`;
        const codes = factors.recoveryCodes;
        const codesState = codes === null ? 'none' : `${codes.remaining} of ${codes.total} left${codes.lastUsedAt === null ? '' : `, last used ${iso(codes.lastUsedAt)}`}`;
        print(
          args,
          {
            username: factors.username,
            totp: totp === null ? null : { enabled: totp.confirmedAt !== null, created_at: iso(totp.createdAt), confirmed_at: iso(totp.confirmedAt) },
            recovery_codes: codes === null ? null : { remaining: codes.remaining, total: codes.total, last_used_at: iso(codes.lastUsedAt) },
            passkeys: factors.passkeys.map((p) => ({
              name: p.name,
              synced: p.synced,
              created_at: iso(p.createdAt),
              last_used_at: iso(p.lastUsedAt),
              counter_regressed_at: iso(p.counterRegressedAt),
            })),
          },
          `username: ${factors.username}\npassword: yes\nauthenticator app (TOTP): ${state}\nrecovery codes: ${codesState}\npasskeys:${
            factors.passkeys.length === 0
              ? ' none'
              : factors.passkeys
                  .map((p) => `\n  ${p.name} (${p.synced ? 'synced' : 'this device only'}), added ${iso(p.createdAt)}, ${p.lastUsedAt === null ? 'never used' : `last used ${iso(p.lastUsedAt)}`}${p.counterRegressedAt === null ? '' : `, COUNTER WENT BACK ${iso(p.counterRegressedAt)}`}`)
                  .join('')
          }`,
        );
        return 0;
      }
      case 'reset-factors': {
        const username = requirePositional(args.positionals, 'the username');
        const reset = await users.resetFactors(username);
        print(
          args,
          { username, removed: reset.removed, sessions_ended: reset.sessions },
          reset.removed.length === 0
            ? `${username} had no second factor; ${reset.sessions} session(s) ended`
            : `removed the second factors of ${username} (${reset.removed.join(', ')}); ${reset.sessions} session(s) ended; the next sign-in asks for the password only`,
        );
        return 0;
      }
      default:
        throw new UsageError(`unknown users command "${sub ?? ''}"`);
    }
  });
}

function userJson(u: UserView) {
  return {
    sub: u.id,
    username: u.username,
    email: u.email,
    name: u.name,
    disabled: u.disabledAt !== null,
    created_at: iso(u.createdAt),
    password_changed_at: iso(u.passwordChangedAt),
  };
}

function userText(u: UserView): string {
  return [
    `username: ${u.username}`,
    `sub:      ${u.id}`,
    `email:    ${u.email ?? '(none)'}`,
    `name:     ${u.name ?? '(none)'}`,
    `status:   ${u.disabledAt === null ? 'active' : `disabled since ${iso(u.disabledAt)}`}`,
  ].join('\n');
}
