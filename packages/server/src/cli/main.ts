import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadSettings } from '../config/load.ts';
import { ConfigError, RegistryError } from '../errors.ts';
import { createLogger } from '../logger.ts';
import { clientsCommand } from './clients.ts';
import { registrationCommand } from './registration.ts';
import { keysCommand } from './keys.ts';
import { resourcesCommand } from './resources.ts';
import { usersCommand } from './users.ts';
import { providersCommand } from './providers.ts';
import { loginCommand, logoutCommand, whoamiCommand } from './login.ts';
import { migrateCommand, serveCommand } from './serve.ts';
import { UsageError, type CliIo } from './io.ts';

export const USAGE = `Usage: latchkey <command> [options]

Commands:
  serve                         start the authorization server
  migrate                       bring the database schema up to date and exit
  resources create --identifier URI --scopes a,b [--name NAME] [--access-token-ttl SECONDS]
                   [--token-format jwt|opaque] [--describe "SCOPE=TEXT" ...]
                   [--default-scopes a,b] requested when a request names the API and no scope
                   [--open-scopes a,b]    scopes self-registered clients may be granted
  resources update URI [--default-scopes a,b] [--open-scopes a,b]
                                replace those lists (an empty value clears one)
  resources list | show URI | delete URI
  clients create --name NAME --type confidential|public
                 --grant-types client_credentials|authorization_code,refresh_token
                 --scopes a,b [--audiences URI,URI]
                 [--auth-method client_secret_basic|client_secret_post|private_key_jwt
                                |tls_client_auth|self_signed_tls_client_auth]
                 [--jwks-uri URI | --jwks-file FILE] (private_key_jwt, self_signed_tls_client_auth)
                 [--tls-subject-dn DN | --tls-san-dns NAME | --tls-san-uri URI | --tls-san-ip IP
                  | --tls-san-email EMAIL] (tls_client_auth: the certificate's registered subject)
                 [--certificate-bound]   tokens bound to the client's TLS certificate (RFC 8705)
                 [--redirect-uris URI,URI] [--post-logout-redirect-uris URI,URI] [--first-party]
                 [--id-token-alg RS256|ES256] [--introspect-for URI,URI] [--client-id ID]
                 [--refresh-grace-seconds 0-60] [--dpop-bound]
                 [--require-par]   authorization requests only by PAR (RFC 9126)
                 [--require-second-factor]   its users sign in with two factors
                 [--require-passkey]   its users sign in with a passkey (acr phr)
                 [--profile default|fapi2]   fapi2: the FAPI 2.0 Security Profile's rules
  clients list | show ID | delete ID | rotate-secret ID
  clients update ID --refresh-grace-seconds 0-60|default
                                the client's own refresh grace window (default: none for public
                                clients, LATCHKEY_REFRESH_GRACE_SECONDS for confidential ones)
  clients update ID --require-par | --no-require-par
                                whether the client must push its authorization requests (RFC 9126)
  clients update ID --require-second-factor | --no-require-second-factor
                                whether the client's users must sign in with two factors
  clients update ID --require-passkey | --no-require-passkey
                                whether the client's users must sign in with a passkey
  clients update ID --profile default|fapi2
                                the rules the client is held to (fapi2: FAPI 2.0 Security Profile)
  clients allow-exchange ID --audience URI --scopes a,b
                                let the client exchange tokens for that API (RFC 8693)
  clients disallow-exchange ID --audience URI
  registration tokens create [--expires-in SECONDS] [--single-use | --max-uses N] [--description TEXT]
                                an initial access token for LATCHKEY_REGISTRATION=initial-access-token
                                (RFC 7591); shown once
  registration tokens list | revoke ID
  keys list | rotate [--alg ES256|RS256|all] [--now]
  keys revoke KID               unpublish a compromised key at once; tokens it signed stop validating
  users create --username NAME [--email EMAIL] [--name "FULL NAME"]
                 (the password is read from a prompt, or from stdin when it is not a terminal)
  users list | show USERNAME | disable USERNAME | enable USERNAME | set-password USERNAME
  users revoke USERNAME         end the user's sessions and revoke all their grants
  users require-second-factor USERNAME [--off]
                                the user must sign in with two factors (--off: no longer)
  users factors USERNAME        the user's second factors (authenticator app)
  users invite EMAIL [--expires-in SECONDS]
                                a single-use sign-up link for LATCHKEY_SIGNUP=invite (mailed when mail is set up)
  users reset-factors USERNAME  remove them (a lost phone) and end the user's sessions
  providers add ID --issuer URL --client-id ID --name "DISPLAY NAME" [--client-secret-stdin | --private-key-jwt]
                 [--scopes "openid email profile"] [--link-by-email] [--no-create]
                                an upstream OpenID provider users may sign in with
  providers list | remove ID
  login --issuer URL --client-id ID [--scope "openid profile offline_access"] [--token-file FILE]
                                sign in from this terminal with the device flow; tokens kept in FILE (0600)
  whoami [--token-file FILE]    who the stored tokens belong to (refreshing them when needed)
  logout [--token-file FILE]    revoke the stored tokens and delete FILE

Global options:
  --config FILE    JSON config file (same as LATCHKEY_CONFIG)
  --json           print one JSON object instead of text
  -h, --help       show this help

Settings come from the same environment variables as the server (LATCHKEY_DATA_DIR, DATABASE_URL, ...).`;

/**
 * Ids are base64url (key ids are RFC 7638 thumbprints), so an id may begin with '-': `keys revoke -Uq...`
 * or `registration tokens revoke -2x...` must not be read as an option. Such an argument is hidden from
 * the option parser and given back as the positional it is: one dash and seven or more id characters
 * (the only short option is -h), or two dashes and id characters no option name has (options are
 * lower-case words). A short value such as `-5` is still refused as the ambiguous option value it is.
 */
const DASHED_ID = /^(?:-[A-Za-z0-9_][A-Za-z0-9_-]{6,}|--(?=[A-Za-z0-9_-]*[A-Z0-9_])[A-Za-z0-9_-]{6,})$/;
const HIDDEN_PREFIX = '\u0000id:';
const hideDashedIds = (arg: string) => (DASHED_ID.test(arg) ? `${HIDDEN_PREFIX}${arg}` : arg);
const revealDashedIds = (arg: string) => (arg.startsWith(HIDDEN_PREFIX) ? arg.slice(HIDDEN_PREFIX.length) : arg);

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv.map(hideDashedIds),
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        identifier: { type: 'string' },
        scopes: { type: 'string' },
        'default-scopes': { type: 'string' },
        'open-scopes': { type: 'string' },
        name: { type: 'string' },
        'access-token-ttl': { type: 'string' },
        'token-format': { type: 'string' },
        describe: { type: 'string', multiple: true },
        type: { type: 'string' },
        'grant-types': { type: 'string' },
        audiences: { type: 'string' },
        'auth-method': { type: 'string' },
        'client-id': { type: 'string' },
        'client-secret-stdin': { type: 'boolean', default: false },
        'link-by-email': { type: 'boolean', default: false },
        'private-key-jwt': { type: 'boolean', default: false },
        'no-create': { type: 'boolean', default: false },
        'redirect-uris': { type: 'string' },
        'post-logout-redirect-uris': { type: 'string' },
        'first-party': { type: 'boolean', default: false },
        'dpop-bound': { type: 'boolean', default: false },
        'certificate-bound': { type: 'boolean', default: false },
        'tls-subject-dn': { type: 'string' },
        'tls-san-dns': { type: 'string' },
        'tls-san-uri': { type: 'string' },
        'tls-san-ip': { type: 'string' },
        'tls-san-email': { type: 'string' },
        'require-par': { type: 'boolean', default: false },
        'no-require-par': { type: 'boolean', default: false },
        'require-second-factor': { type: 'boolean', default: false },
        'no-require-second-factor': { type: 'boolean', default: false },
        'require-passkey': { type: 'boolean', default: false },
        'no-require-passkey': { type: 'boolean', default: false },
        off: { type: 'boolean', default: false },
        'id-token-alg': { type: 'string' },
        profile: { type: 'string' },
        'introspect-for': { type: 'string' },
        'jwks-uri': { type: 'string' },
        'jwks-file': { type: 'string' },
        'refresh-grace-seconds': { type: 'string' },
        audience: { type: 'string' },
        alg: { type: 'string' },
        username: { type: 'string' },
        email: { type: 'string' },
        now: { type: 'boolean', default: false },
        issuer: { type: 'string' },
        scope: { type: 'string' },
        'token-file': { type: 'string' },
        'expires-in': { type: 'string' },
        'single-use': { type: 'boolean' },
        'max-uses': { type: 'string' },
        description: { type: 'string' },
      },
    });
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values } = parsed;
  const positionals = parsed.positionals.map(revealDashedIds);
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    io.out(USAGE);
    return command || values.help ? 0 : 2;
  }
  try {
    const settings = loadSettings({ configFile: values.config });
    // The server logs to stdout; other commands keep stdout for their output and log errors to stderr.
    const logger =
      command === 'serve'
        ? createLogger(settings.logLevel, io.logDestination)
        : createLogger('error', io.logDestination ?? pino.destination(2));
    const args = { settings, logger, values, positionals: rest, io };
    switch (command) {
      case 'serve':
        return await serveCommand(args);
      case 'migrate':
        return await migrateCommand(args);
      case 'resources':
        return await resourcesCommand(args);
      case 'clients':
        return await clientsCommand(args);
      case 'registration':
        return await registrationCommand(args);
      case 'keys':
        return await keysCommand(args);
      case 'users':
        return await usersCommand(args);
      case 'providers':
        return await providersCommand(args);
      case 'login':
        return await loginCommand(args);
      case 'whoami':
        return await whoamiCommand(args);
      case 'logout':
        return await logoutCommand(args);
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof ConfigError || err instanceof RegistryError) {
      if (values.json) io.out(JSON.stringify({ error: err instanceof RegistryError ? err.code : 'config', message: err.message }));
      io.err(`error: ${err.message}`);
      return 1;
    }
    io.err(`error: ${(err as Error).message ?? String(err)}`);
    return 1;
  }
}

function processIo(): CliIo {
  return {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
  };
}
