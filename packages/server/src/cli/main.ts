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
                 [--auth-method client_secret_basic|client_secret_post|private_key_jwt]
                 [--jwks-uri URI | --jwks-file FILE] (private_key_jwt)
                 [--redirect-uris URI,URI] [--post-logout-redirect-uris URI,URI] [--first-party]
                 [--id-token-alg RS256|ES256] [--introspect-for URI,URI] [--client-id ID]
                 [--refresh-grace-seconds 0-60]
  clients list | show ID | delete ID | rotate-secret ID
  clients update ID --refresh-grace-seconds 0-60|default
                                the client's own refresh grace window (default: none for public
                                clients, LATCHKEY_REFRESH_GRACE_SECONDS for confidential ones)
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
  login --issuer URL --client-id ID [--scope "openid profile offline_access"] [--token-file FILE]
                                sign in from this terminal with the device flow; tokens kept in FILE (0600)
  whoami [--token-file FILE]    who the stored tokens belong to (refreshing them when needed)
  logout [--token-file FILE]    revoke the stored tokens and delete FILE

Global options:
  --config FILE    JSON config file (same as LATCHKEY_CONFIG)
  --json           print one JSON object instead of text
  -h, --help       show this help

Settings come from the same environment variables as the server (LATCHKEY_DATA_DIR, DATABASE_URL, ...).`;

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
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
        'redirect-uris': { type: 'string' },
        'post-logout-redirect-uris': { type: 'string' },
        'first-party': { type: 'boolean', default: false },
        'id-token-alg': { type: 'string' },
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
  const { values, positionals } = parsed;
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
