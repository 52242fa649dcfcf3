/**
 * Every `latchkey` command, as data: its words, arguments, options (with their types and whether they
 * are required), what it does and examples. The parser (parse.ts) accepts for each command only its own
 * options and the global ones, and the help (help.ts) is written from the same table, so the two cannot
 * drift apart. A command's handler reads `values[name]` for the options listed here: an option a
 * handler reads must be listed under its command, or the parser refuses it.
 */

export interface OptionSpec {
  /** The long name, without the dashes: `scopes` is `--scopes`. */
  name: string;
  /** `string` options take a value (`--name X` or `--name=X`); `boolean` ones do not. */
  type: 'string' | 'boolean';
  /** The value's placeholder in the usage: `URI`, `a,b`, `confidential|public`. */
  value?: string;
  /** The command refuses to run without it. */
  required?: boolean;
  /** May be given more than once; the handler gets every value, in order. */
  multiple?: boolean;
  /** Shown in brackets in the command's synopsis although optional (an option most calls need). */
  inSynopsis?: boolean;
  /** One line (or two) for the command's help. */
  help: string;
  /** A single-letter alias (`-h`). */
  short?: string;
}

export interface ArgumentSpec {
  /** The placeholder in the usage: `ID`. */
  name: string;
  /** What it is, for "the client id is required". */
  what: string;
}

export interface CommandSpec {
  /** The words that name the command: `['clients', 'create']`. */
  path: string[];
  /** Its positional arguments, all required, in order. */
  args?: ArgumentSpec[];
  options?: OptionSpec[];
  /** What it does, in one line (the overall usage shows this). */
  summary: string;
  /** More about it, for its own help only. */
  details?: string;
  /** One or two whole command lines (a test runs each through the parser). */
  examples?: string[];
}

/** Accepted by every command. */
export const GLOBAL_OPTIONS: OptionSpec[] = [
  { name: 'config', type: 'string', value: 'FILE', help: 'JSON config file (same as LATCHKEY_CONFIG)' },
  { name: 'json', type: 'boolean', help: 'print one JSON object instead of text' },
  { name: 'help', short: 'h', type: 'boolean', help: 'show this help (latchkey COMMAND --help: that command\'s)' },
  { name: 'version', type: 'boolean', help: "print Latchkey's version" },
];

const CLIENT_ID: ArgumentSpec = { name: 'ID', what: 'the client id' };
const RESOURCE: ArgumentSpec = { name: 'URI', what: 'the resource identifier' };
const USERNAME: ArgumentSpec = { name: 'USERNAME', what: 'the username' };
const TOKEN_FILE: OptionSpec = {
  name: 'token-file',
  type: 'string',
  value: 'FILE',
  help: 'where the tokens are kept (default: $XDG_CONFIG_HOME/latchkey/tokens.json or ~/.config/latchkey/tokens.json)',
};
const REFRESH_GRACE_HELP =
  "the client's own refresh grace window (default: none for public clients, LATCHKEY_REFRESH_GRACE_SECONDS for confidential ones)";

export const COMMANDS: CommandSpec[] = [
  {
    path: ['serve'],
    summary: 'start the authorization server',
    details: 'Runs the migrations, creates the signing keys on first start and serves HTTP until SIGINT or SIGTERM; logs JSON to stdout.',
    examples: ['latchkey serve', 'latchkey serve --config latchkey.json'],
  },
  {
    path: ['migrate'],
    summary: 'bring the database schema up to date and exit',
    examples: ['latchkey migrate --json'],
  },
  {
    path: ['doctor'],
    summary: 'audit settings, keys and clients against RFC 9700',
    details:
      'Reads the settings, database, keys and clients the server uses, and changes nothing. Each finding has ' +
      'its severity, the RFC section and the command or setting that fixes it; each client, its grants, ' +
      'scopes, refresh tokens and how they are revoked. Exit status 1 when a finding is at or above --fail-on.',
    options: [
      { name: 'issuer', type: 'string', value: 'URL', help: "also check the running server's metadata (https, iss parameter, grants, PKCE)" },
      { name: 'allow-loopback', type: 'boolean', help: 'with --issuer: the server may be on this machine, over http' },
      { name: 'fail-on', type: 'string', value: 'low|medium|high', help: 'the least severity that makes the exit status 1 (default: high)' },
    ],
    examples: ['latchkey doctor', 'latchkey doctor --json --fail-on medium --issuer https://auth.example.com'],
  },

  {
    path: ['resources', 'create'],
    summary: 'register an API (a resource) and its scopes',
    options: [
      { name: 'identifier', type: 'string', value: 'URI', required: true, help: "the API's identifier: the aud of its tokens" },
      { name: 'scopes', type: 'string', value: 'a,b', required: true, help: 'its scopes (orders:read style), separated by commas' },
      { name: 'name', type: 'string', value: 'NAME', help: 'a display name (default: the identifier)' },
      { name: 'access-token-ttl', type: 'string', value: 'SECONDS', help: 'lifetime of its tokens, 1-86400 s (default: the server setting)' },
      { name: 'token-format', type: 'string', value: 'jwt|opaque', help: 'jwt (default): RFC 9068 JWTs; opaque: references validated by introspection' },
      { name: 'describe', type: 'string', value: '"SCOPE=TEXT"', multiple: true, help: 'what a scope lets an application do, for the consent page (repeatable)' },
      { name: 'default-scopes', type: 'string', value: 'a,b', help: 'requested when a request names the API and no scope' },
      { name: 'open-scopes', type: 'string', value: 'a,b', help: 'scopes self-registered clients may be granted' },
    ],
    examples: [
      'latchkey resources create --identifier https://api.example.com --scopes orders:read,orders:write',
      'latchkey resources create --identifier https://api.example.com --scopes orders:read --describe "orders:read=Read your orders"',
    ],
  },
  {
    path: ['resources', 'update'],
    args: [RESOURCE],
    summary: 'replace its default or open scopes (an empty value clears a list)',
    details: 'Give --default-scopes, --open-scopes or both; a list left out stays as it is.',
    options: [
      { name: 'default-scopes', type: 'string', value: 'a,b', help: 'requested when a request names the API and no scope' },
      { name: 'open-scopes', type: 'string', value: 'a,b', help: 'scopes self-registered clients may be granted' },
    ],
    examples: ['latchkey resources update https://api.example.com --default-scopes orders:read', 'latchkey resources update https://api.example.com --open-scopes ""'],
  },
  { path: ['resources', 'list'], summary: 'all resources', examples: ['latchkey resources list --json'] },
  { path: ['resources', 'show'], args: [RESOURCE], summary: 'one resource', examples: ['latchkey resources show https://api.example.com'] },
  {
    path: ['resources', 'delete'],
    args: [RESOURCE],
    summary: 'delete a resource and its scopes',
    examples: ['latchkey resources delete https://api.example.com'],
  },

  {
    path: ['clients', 'create'],
    summary: 'register a client; a confidential one gets a secret, shown once',
    details:
      'A client needs at least one grant type, unless it is an API that only introspects (--introspect-for).\n' +
      'Lists are separated by commas (or spaces).',
    options: [
      { name: 'name', type: 'string', value: 'NAME', required: true, help: "the client's display name" },
      { name: 'type', type: 'string', value: 'confidential|public', required: true, help: 'confidential: has a secret (or keys); public: has none, uses PKCE' },
      {
        name: 'grant-types',
        type: 'string',
        value: 'G,G',
        inSynopsis: true,
        help: 'client_credentials, authorization_code, refresh_token, device_code, urn:ietf:params:oauth:grant-type:token-exchange',
      },
      { name: 'scopes', type: 'string', value: 'a,b', inSynopsis: true, help: 'openid, profile, email, offline_access and scopes registered on resources' },
      { name: 'audiences', type: 'string', value: 'URI,URI', help: 'the resources it may get tokens for (default: those owning its scopes)' },
      { name: 'redirect-uris', type: 'string', value: 'URI,URI', help: 'required with authorization_code: where the browser may be sent back' },
      { name: 'post-logout-redirect-uris', type: 'string', value: 'URI,URI', help: 'where /logout may send the browser afterwards' },
      { name: 'backchannel-logout-uri', type: 'string', value: 'URI', help: 'where logout tokens are posted when a session of its user ends (OIDC Back-Channel Logout)' },
      { name: 'backchannel-logout-session-required', type: 'boolean', help: 'the client needs sid in its logout tokens' },
      { name: 'first-party', type: 'boolean', help: 'your own application: its users are not asked for consent' },
      { name: 'client-id', type: 'string', value: 'ID', help: 'choose the id instead of a random one' },
      {
        name: 'auth-method',
        type: 'string',
        value: 'METHOD',
        help: 'client_secret_basic (default), client_secret_post, private_key_jwt, tls_client_auth, self_signed_tls_client_auth',
      },
      { name: 'jwks-uri', type: 'string', value: 'URI', help: "private_key_jwt, self_signed_tls_client_auth: where the client's public keys are" },
      { name: 'jwks-file', type: 'string', value: 'FILE', help: "private_key_jwt, self_signed_tls_client_auth: the client's public keys (a JWKS)" },
      { name: 'tls-subject-dn', type: 'string', value: 'DN', help: "tls_client_auth: the certificate's subject DN (or one --tls-san-* instead)" },
      { name: 'tls-san-dns', type: 'string', value: 'NAME', help: "tls_client_auth: the certificate's subjectAltName DNS name" },
      { name: 'tls-san-uri', type: 'string', value: 'URI', help: "tls_client_auth: the certificate's subjectAltName URI" },
      { name: 'tls-san-ip', type: 'string', value: 'IP', help: "tls_client_auth: the certificate's subjectAltName IP address" },
      { name: 'tls-san-email', type: 'string', value: 'EMAIL', help: "tls_client_auth: the certificate's subjectAltName email address" },
      { name: 'certificate-bound', type: 'boolean', help: "tokens bound to the client's TLS certificate (RFC 8705)" },
      { name: 'dpop-bound', type: 'boolean', help: 'every token request must carry a DPoP proof (RFC 9449)' },
      { name: 'id-token-alg', type: 'string', value: 'RS256|ES256', help: 'how its ID tokens are signed (default RS256)' },
      { name: 'introspect-for', type: 'string', value: 'URI,URI', help: 'an API acting for these resources: it may introspect their tokens' },
      { name: 'refresh-grace-seconds', type: 'string', value: '0-60', help: REFRESH_GRACE_HELP },
      { name: 'require-par', type: 'boolean', help: 'authorization requests only by PAR (RFC 9126)' },
      { name: 'require-second-factor', type: 'boolean', help: 'its users sign in with two factors' },
      { name: 'require-passkey', type: 'boolean', help: 'its users sign in with a passkey (acr phr)' },
      { name: 'profile', type: 'string', value: 'default|fapi2', help: "fapi2: the FAPI 2.0 Security Profile's rules" },
    ],
    examples: [
      'latchkey clients create --name svc-a --type confidential --grant-types client_credentials --scopes orders:read',
      'latchkey clients create --name "Demo Shop" --type public --grant-types authorization_code,refresh_token --scopes openid,orders:read --redirect-uris https://shop.example.com/callback',
    ],
  },
  { path: ['clients', 'list'], summary: 'all clients (id, type, source, name)', examples: ['latchkey clients list --json'] },
  { path: ['clients', 'show'], args: [CLIENT_ID], summary: 'one client (never its secret)', examples: ['latchkey clients show svc-a'] },
  {
    path: ['clients', 'update'],
    args: [CLIENT_ID],
    summary: "change the client's refresh grace window, PAR, sign-in, profile or back-channel logout",
    options: [
      { name: 'refresh-grace-seconds', type: 'string', value: '0-60|default', help: REFRESH_GRACE_HELP },
      { name: 'require-par', type: 'boolean', help: 'the client must push its authorization requests (RFC 9126)' },
      { name: 'no-require-par', type: 'boolean', help: 'no longer' },
      { name: 'require-second-factor', type: 'boolean', help: "the client's users must sign in with two factors" },
      { name: 'no-require-second-factor', type: 'boolean', help: 'no longer' },
      { name: 'require-passkey', type: 'boolean', help: "the client's users must sign in with a passkey" },
      { name: 'no-require-passkey', type: 'boolean', help: 'no longer' },
      { name: 'profile', type: 'string', value: 'default|fapi2', help: 'the rules the client is held to (fapi2: FAPI 2.0 Security Profile)' },
      { name: 'backchannel-logout-uri', type: 'string', value: 'URI|none', help: 'where logout tokens are posted (OIDC Back-Channel Logout); none: nowhere' },
      { name: 'backchannel-logout-session-required', type: 'boolean', help: 'the client needs sid in its logout tokens (with --backchannel-logout-uri)' },
    ],
    examples: ['latchkey clients update svc-a --refresh-grace-seconds 10', 'latchkey clients update demo-shop --require-par --profile fapi2'],
  },
  { path: ['clients', 'delete'], args: [CLIENT_ID], summary: 'delete a client; its tokens stop working', examples: ['latchkey clients delete svc-a'] },
  {
    path: ['clients', 'rotate-secret'],
    args: [CLIENT_ID],
    summary: 'a new secret, shown once; the old one stops working at once',
    examples: ['latchkey clients rotate-secret svc-a --json'],
  },
  {
    path: ['clients', 'allow-exchange'],
    args: [CLIENT_ID],
    summary: 'let the client exchange tokens for that API (RFC 8693)',
    options: [
      { name: 'audience', type: 'string', value: 'URI', required: true, help: 'the API the exchanged tokens are for' },
      { name: 'scopes', type: 'string', value: 'a,b', required: true, help: 'the most of its scopes they may carry' },
    ],
    examples: ['latchkey clients allow-exchange orders-service --audience https://notifications.example --scopes notifications:send'],
  },
  {
    path: ['clients', 'disallow-exchange'],
    args: [CLIENT_ID],
    summary: 'take that permission back',
    options: [{ name: 'audience', type: 'string', value: 'URI', required: true, help: 'the API' }],
    examples: ['latchkey clients disallow-exchange orders-service --audience https://notifications.example'],
  },

  {
    path: ['registration', 'tokens', 'create'],
    summary: 'a token that lets a client register itself (RFC 7591 §3); shown once',
    details: 'For LATCHKEY_REGISTRATION=initial-access-token: the client sends it to the registration endpoint.',
    options: [
      { name: 'expires-in', type: 'string', value: 'SECONDS', help: 'valid for that long (default: no expiry)' },
      { name: 'single-use', type: 'boolean', help: 'allows one registration' },
      { name: 'max-uses', type: 'string', value: 'N', help: 'allows N registrations (default: no limit)' },
      { name: 'description', type: 'string', value: 'TEXT', help: 'who it is for' },
    ],
    examples: ['latchkey registration tokens create --single-use --expires-in 86400 --description "Notes team"'],
  },
  { path: ['registration', 'tokens', 'list'], summary: 'the initial access tokens (never their values)', examples: ['latchkey registration tokens list'] },
  {
    path: ['registration', 'tokens', 'revoke'],
    args: [{ name: 'ID', what: 'the token id' }],
    summary: 'it allows no more registrations',
    examples: ['latchkey registration tokens revoke 2xQ_a9bZk1Lm'],
  },

  { path: ['keys', 'list'], summary: 'the signing keys and their state', examples: ['latchkey keys list --json'] },
  {
    path: ['keys', 'rotate'],
    summary: 'publish a new key; it signs after LATCHKEY_KEY_PREPUBLISH_SECONDS',
    options: [
      { name: 'alg', type: 'string', value: 'ES256|RS256|all', help: 'rotate only one algorithm (default: all)' },
      { name: 'now', type: 'boolean', help: 'the new key signs at once (a compromised key)' },
    ],
    examples: ['latchkey keys rotate', 'latchkey keys rotate --alg ES256 --now'],
  },
  {
    path: ['keys', 'revoke'],
    args: [{ name: 'KID', what: 'the key id (kid)' }],
    summary: 'unpublish a compromised key at once: its tokens stop validating',
    examples: ['latchkey keys revoke Uq3vL0uTj2tmcFZ8sYJx1m0JrVdC3Q5m4XhZbd6k2wA'],
  },

  {
    path: ['admin', 'create-client'],
    summary: 'a client for the admin API (client_credentials); its secret is shown once',
    details: 'It gets tokens for urn:latchkey:admin with admin:read and admin:write (docs/admin-api.md).',
    options: [
      { name: 'name', type: 'string', value: 'NAME', required: true, help: "the client's display name" },
      { name: 'read-only', type: 'boolean', help: 'admin:read only: it may look, not change' },
    ],
    examples: ['latchkey admin create-client --name "ops automation"', 'latchkey admin create-client --name dashboards --read-only'],
  },

  {
    path: ['users', 'create'],
    summary: 'create a user; the password is read from a prompt or from stdin',
    details: 'The password is read from a prompt that does not echo, or from stdin when it is not a terminal; there is no password option.',
    options: [
      { name: 'username', type: 'string', value: 'NAME', required: true, help: '1-64 of a-z 0-9 . _ @ -' },
      { name: 'email', type: 'string', value: 'EMAIL', help: 'their email address' },
      { name: 'name', type: 'string', value: '"FULL NAME"', help: 'their name' },
    ],
    examples: ['latchkey users create --username alice --email alice@example.com --name "Alice Liddell"', 'printf \'%s\' "$PASSWORD" | latchkey users create --username alice'],
  },
  { path: ['users', 'list'], summary: 'all users', examples: ['latchkey users list --json'] },
  { path: ['users', 'show'], args: [USERNAME], summary: 'one user', examples: ['latchkey users show alice'] },
  { path: ['users', 'disable'], args: [USERNAME], summary: 'the user can no longer sign in; sessions end, grants are revoked', examples: ['latchkey users disable alice'] },
  { path: ['users', 'enable'], args: [USERNAME], summary: 'the user can sign in again', examples: ['latchkey users enable alice'] },
  { path: ['users', 'set-password'], args: [USERNAME], summary: 'read a new password like create does', examples: ['latchkey users set-password alice'] },
  { path: ['users', 'revoke'], args: [USERNAME], summary: "end the user's sessions and revoke all their grants", examples: ['latchkey users revoke alice'] },
  {
    path: ['users', 'require-second-factor'],
    args: [USERNAME],
    summary: 'the user must sign in with two factors',
    options: [{ name: 'off', type: 'boolean', help: 'no longer' }],
    examples: ['latchkey users require-second-factor alice', 'latchkey users require-second-factor alice --off'],
  },
  { path: ['users', 'factors'], args: [USERNAME], summary: "the user's second factors: app, recovery codes, passkeys", examples: ['latchkey users factors alice'] },
  {
    path: ['users', 'reset-factors'],
    args: [USERNAME],
    summary: "remove them (a lost phone) and end the user's sessions",
    examples: ['latchkey users reset-factors alice'],
  },
  {
    path: ['users', 'invite'],
    args: [{ name: 'EMAIL', what: 'the email address' }],
    summary: 'a single-use sign-up link for LATCHKEY_SIGNUP=invite',
    details: 'A running server mails it when mail is set up; only its hash is kept.',
    options: [{ name: 'expires-in', type: 'string', value: 'SECONDS', help: 'valid for that long (default: 7 days)' }],
    examples: ['latchkey users invite ada@example.com', 'latchkey users invite ada@example.com --expires-in 86400 --json'],
  },

  {
    path: ['providers', 'add'],
    args: [{ name: 'ID', what: 'the provider id' }],
    summary: 'an upstream OpenID provider users may sign in with',
    options: [
      { name: 'issuer', type: 'string', value: 'URL', required: true, help: "the provider's issuer" },
      { name: 'client-id', type: 'string', value: 'ID', required: true, help: "Latchkey's client id at the provider" },
      { name: 'name', type: 'string', value: '"DISPLAY NAME"', required: true, help: 'the name on the login page' },
      { name: 'client-secret-stdin', type: 'boolean', help: 'read the client secret from stdin (kept encrypted)' },
      { name: 'private-key-jwt', type: 'boolean', help: 'authenticate with a key pair Latchkey makes (prints the jwks_uri to register)' },
      { name: 'scopes', type: 'string', value: '"openid email profile"', help: 'the scopes asked of the provider' },
      { name: 'link-by-email', type: 'boolean', help: 'link a sign-in to the local user with the same verified email' },
      { name: 'no-create', type: 'boolean', help: 'never create users: only linked ones may sign in' },
    ],
    examples: ['echo "$CLIENT_SECRET" | latchkey providers add corp --issuer https://sso.example.com --client-id latchkey --name "Corp SSO" --client-secret-stdin'],
  },
  { path: ['providers', 'list'], summary: 'the providers (never a secret)', examples: ['latchkey providers list'] },
  {
    path: ['providers', 'remove'],
    args: [{ name: 'ID', what: 'the provider id' }],
    summary: 'remove it and its links (the users keep their accounts)',
    examples: ['latchkey providers remove corp'],
  },

  {
    path: ['apply'],
    summary: 'make the database hold what a configuration file declares; prints the plan first',
    details:
      'The file (YAML) declares resources, clients, providers and users; secrets come from the environment or\n' +
      'files (secret_from_env, secret_from_file), never the file. Exit 2: the file is not valid; 1: a change refused.',
    options: [
      { name: 'file', type: 'string', value: 'FILE', required: true, help: 'the configuration file (latchkey.yaml)' },
      { name: 'dry-run', type: 'boolean', help: 'print the plan and change nothing' },
      { name: 'prune', type: 'boolean', help: 'also delete the resources, clients and providers the file does not declare' },
    ],
    examples: ['latchkey apply --file latchkey.yaml --dry-run', 'latchkey apply --file latchkey.yaml --prune --json'],
  },
  {
    path: ['export'],
    summary: 'write the configuration in the format apply reads (no secrets)',
    options: [{ name: 'output', type: 'string', value: 'FILE', help: 'write it there (mode 0600) instead of stdout' }],
    examples: ['latchkey export --output latchkey.yaml'],
  },

  {
    path: ['login'],
    summary: 'sign in from this terminal with the device flow (RFC 8628)',
    details: 'The tokens are kept in a file only you can read (0600), for whoami and logout.',
    options: [
      { name: 'issuer', type: 'string', value: 'URL', required: true, help: 'the Latchkey server' },
      { name: 'client-id', type: 'string', value: 'ID', required: true, help: 'a public client with the device_code grant' },
      { name: 'scope', type: 'string', value: '"openid profile offline_access"', help: 'the scopes asked for (that is the default)' },
      TOKEN_FILE,
    ],
    examples: ['latchkey login --issuer http://localhost:9000 --client-id latchkey-cli'],
  },
  { path: ['whoami'], summary: 'who the stored tokens belong to (refreshing them when needed)', options: [TOKEN_FILE], examples: ['latchkey whoami --json'] },
  { path: ['logout'], summary: 'revoke the stored tokens and delete the file', options: [TOKEN_FILE], examples: ['latchkey logout'] },
];

/** Every option name the table knows (global ones included), with its one type: a name means one thing everywhere. */
export const OPTION_KINDS: ReadonlyMap<string, OptionSpec> = (() => {
  const kinds = new Map<string, OptionSpec>();
  for (const option of [...GLOBAL_OPTIONS, ...COMMANDS.flatMap((c) => c.options ?? [])]) {
    const seen = kinds.get(option.name);
    if (seen && (seen.type !== option.type || Boolean(seen.multiple) !== Boolean(option.multiple))) {
      throw new Error(`cli/commands.ts: --${option.name} is declared with two different types`);
    }
    if (!seen) kinds.set(option.name, option);
  }
  return kinds;
})();

/** The command named exactly by `path`, if any. */
export function findCommand(path: readonly string[]): CommandSpec | undefined {
  return COMMANDS.find((c) => c.path.length === path.length && c.path.every((word, i) => word === path[i]));
}

/** The commands under `prefix` (all of them for an empty prefix), in table order. */
export function commandsUnder(prefix: readonly string[]): CommandSpec[] {
  return COMMANDS.filter((c) => c.path.length >= prefix.length && prefix.every((word, i) => c.path[i] === word));
}
