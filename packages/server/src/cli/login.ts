import { nowSeconds } from '../lib/clock.ts';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { print, requireString, type CommandArgs } from './io.ts';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** What `latchkey login` keeps for later commands: owner-only (0600), in a 0700 directory. */
interface StoredTokens {
  issuer: string;
  client_id: string;
  token_endpoint: string;
  userinfo_endpoint?: string;
  revocation_endpoint?: string;
  access_token: string;
  refresh_token?: string;
  id_token?: string;
  scope: string;
  expires_at: number;
}

/** Where tokens are kept: `--token-file`, else $XDG_CONFIG_HOME/latchkey/tokens.json, else ~/.config/latchkey/tokens.json. */
function tokenFile(args: CommandArgs): string {
  const given = args.values['token-file'];
  if (typeof given === 'string') return given;
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'latchkey', 'tokens.json');
}

async function postForm(url: string, form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = { error: 'invalid_response', error_description: `the server answered ${res.status} with something that is not JSON` };
  }
  return { status: res.status, body };
}

/** RFC 8414 metadata of the issuer; its `issuer` must be exactly the one asked for (§3.3). */
async function discover(issuer: string): Promise<Record<string, unknown>> {
  const url = new URL(issuer);
  let res: Response;
  try {
    res = await fetch(`${url.origin}/.well-known/oauth-authorization-server${url.pathname.replace(/\/$/, '')}`, { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    // fetch says only "fetch failed"; the reason is its cause (ECONNREFUSED, ENOTFOUND, a timeout).
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).name;
    throw new Error(`cannot reach the issuer ${issuer} (--issuer): ${why}`);
  }
  if (!res.ok) throw new Error(`discovery at ${issuer} failed: HTTP ${res.status}`);
  const metadata = (await res.json()) as Record<string, unknown>;
  if (metadata.issuer !== issuer) throw new Error(`the server says its issuer is ${String(metadata.issuer)}, not ${issuer}`);
  return metadata;
}

function describeError(body: Record<string, unknown>): string {
  return `${String(body.error ?? 'error')}${body.error_description ? `: ${String(body.error_description)}` : ''}`;
}

function save(file: string, tokens: StoredTokens): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(tokens, null, 2)}\n`, { mode: 0o600 });
  // An existing file keeps its old mode through writeFileSync: make sure.
  chmodSync(file, 0o600);
}

function load(file: string): StoredTokens {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StoredTokens;
  } catch {
    throw new Error(`not logged in (no tokens in ${file}); run latchkey login first`);
  }
}

/**
 * `latchkey login --issuer URL --client-id ID`: the device authorization flow (RFC 8628) from a
 * terminal. Prints the code and the URL, polls at the server's interval (slowing down when told),
 * and stores the tokens for later commands.
 */
export async function loginCommand(args: CommandArgs): Promise<number> {
  const issuer = requireString(args.values, 'issuer').replace(/\/$/, '');
  const clientId = requireString(args.values, 'client-id');
  const scope = typeof args.values.scope === 'string' ? args.values.scope : 'openid profile offline_access';
  const metadata = await discover(issuer);
  const deviceEndpoint = metadata.device_authorization_endpoint;
  if (typeof deviceEndpoint !== 'string') throw new Error(`${issuer} does not offer the device authorization grant`);
  const started = await postForm(deviceEndpoint, { client_id: clientId, scope });
  if (started.status !== 200) throw new Error(`device authorization refused: ${describeError(started.body)}`);
  const { device_code: deviceCode, user_code: userCode, verification_uri: uri, verification_uri_complete: complete } = started.body as Record<
    string,
    string
  >;
  let interval = Number(started.body.interval ?? 5);
  const expiresAt = Date.now() + Number(started.body.expires_in ?? 600) * 1000;
  // The user's instructions go to stderr when stdout is reserved for --json.
  const say = (text: string) => (args.values.json ? args.io.err(text) : args.io.out(text));
  say(`To sign in, open ${uri}\nand enter the code ${userCode}\n(or open ${complete})\n\nWaiting for approval...`);

  for (;;) {
    await sleep(interval * 1000);
    if (Date.now() > expiresAt) throw new Error('the code expired before it was approved; run latchkey login again');
    const polled = await postForm(String(metadata.token_endpoint), { grant_type: DEVICE_GRANT, device_code: deviceCode!, client_id: clientId });
    if (polled.status === 200) {
      const body = polled.body as Record<string, string | number | undefined>;
      const file = tokenFile(args);
      const stored: StoredTokens = {
        issuer,
        client_id: clientId,
        token_endpoint: String(metadata.token_endpoint),
        ...(typeof metadata.revocation_endpoint === 'string' ? { revocation_endpoint: metadata.revocation_endpoint } : {}),
        userinfo_endpoint: `${issuer}/userinfo`,
        access_token: String(body.access_token),
        ...(body.refresh_token ? { refresh_token: String(body.refresh_token) } : {}),
        ...(body.id_token ? { id_token: String(body.id_token) } : {}),
        scope: String(body.scope ?? ''),
        expires_at: nowSeconds() + Number(body.expires_in ?? 0),
      };
      save(file, stored);
      print(args, { logged_in: true, token_file: file, scope: stored.scope }, `Logged in. Tokens saved to ${file}`);
      return 0;
    }
    const error = polled.body.error;
    // RFC 8628 §3.5: keep polling while pending; slow down by 5 s when told; anything else ends it.
    if (error === 'authorization_pending') continue;
    if (error === 'slow_down') {
      interval += 5;
      continue;
    }
    if (error === 'access_denied') throw new Error('the request was denied');
    if (error === 'expired_token') throw new Error('the code expired before it was approved; run latchkey login again');
    throw new Error(`login failed: ${describeError(polled.body)}`);
  }
}

/** A usable access token from the stored ones, refreshed (and saved, rotated) when it expired. */
async function freshTokens(args: CommandArgs, file: string): Promise<StoredTokens> {
  const stored = load(file);
  if (stored.expires_at - 30 > nowSeconds()) return stored;
  if (!stored.refresh_token) throw new Error('the access token expired and there is no refresh token; run latchkey login again');
  const refreshed = await postForm(stored.token_endpoint, { grant_type: 'refresh_token', refresh_token: stored.refresh_token, client_id: stored.client_id });
  if (refreshed.status !== 200) throw new Error(`the session ended (${describeError(refreshed.body)}); run latchkey login again`);
  const body = refreshed.body as Record<string, string | number | undefined>;
  const next: StoredTokens = {
    ...stored,
    access_token: String(body.access_token),
    ...(body.refresh_token ? { refresh_token: String(body.refresh_token) } : {}),
    ...(body.id_token ? { id_token: String(body.id_token) } : {}),
    expires_at: nowSeconds() + Number(body.expires_in ?? 0),
  };
  save(file, next);
  return next;
}

/** `latchkey whoami`: who the stored tokens belong to (OIDC userinfo). */
export async function whoamiCommand(args: CommandArgs): Promise<number> {
  const file = tokenFile(args);
  const tokens = await freshTokens(args, file);
  const res = await fetch(tokens.userinfo_endpoint ?? `${tokens.issuer}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  if (!res.ok) throw new Error(`userinfo refused the token: HTTP ${res.status}; run latchkey login again`);
  const claims = (await res.json()) as Record<string, unknown>;
  const name = claims.name ?? claims.preferred_username ?? claims.sub;
  print(args, { ...claims, issuer: tokens.issuer }, `${String(name)} (sub ${String(claims.sub)}) at ${tokens.issuer}`);
  return 0;
}

/** `latchkey logout`: revokes the stored refresh token (its whole family) and deletes the file. */
export async function logoutCommand(args: CommandArgs): Promise<number> {
  const file = tokenFile(args);
  const stored = load(file);
  if (stored.refresh_token && stored.revocation_endpoint) {
    await postForm(stored.revocation_endpoint, { token: stored.refresh_token, token_type_hint: 'refresh_token', client_id: stored.client_id });
  }
  rmSync(file, { force: true });
  print(args, { logged_out: true }, `Logged out; ${file} deleted`);
  return 0;
}

