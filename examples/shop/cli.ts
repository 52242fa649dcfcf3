/**
 * `npm run demo:cli -- <command>`: the shop from a terminal, signed in with the device authorization
 * flow (RFC 8628) through @latchkey/client. It finds the running demo through `<dataDir>/demo.json`
 * and keeps its tokens in `<dataDir>/cli-tokens.json` (owner-only), so they go when the demo restarts.
 *
 *   orders   list your orders, through the gateway (signs in first when needed)
 *   login    sign in
 *   logout   revoke the tokens and forget them
 */
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LatchkeyClient, LatchkeyClientError, OAuthError, SessionExpiredError, type TokenSet } from '@latchkey/client';
import { CLI_SCOPE, DEFAULT_DATA_DIR, type DemoFile } from './config.ts';
import type { Order } from './services/orders.ts';

export interface CliIo {
  dataDir: string;
  print(line: string): void;
  signal?: AbortSignal;
}

const USAGE = `usage: npm run demo:cli -- <command>

  orders   list your orders, through the gateway (signs in with the device flow first when needed)
  login    sign in with the device flow
  logout   revoke the tokens and forget them`;

/** Runs one command; resolves to the exit code. */
export async function runCli(args: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = args;
  if (command === '--help' || command === '-h' || command === 'help') {
    io.print(USAGE);
    return 0;
  }
  if (!command) {
    io.print(USAGE);
    return 2;
  }
  if (!['orders', 'login', 'logout'].includes(command)) {
    io.print(`unknown command "${command}": the commands are orders, login and logout (npm run demo:cli -- --help)`);
    return 2;
  }
  if (rest.length > 0) {
    io.print(`${command} takes no arguments (got: ${rest.join(' ')})`);
    return 2;
  }
  const demoFile = join(io.dataDir, 'demo.json');
  if (!existsSync(demoFile)) {
    io.print('The demo is not running: start it with `npm run demo` (in another terminal).');
    return 1;
  }
  const demo = JSON.parse(readFileSync(demoFile, 'utf8')) as DemoFile;
  // A demo that was stopped (or killed) leaves its file behind: ask the issuer before anything else.
  try {
    await fetch(`${demo.issuer}/healthz`, { signal: AbortSignal.timeout(3_000) });
  } catch {
    io.print(`The demo is not running (nothing answers at ${demo.issuer}): start it with \`npm run demo\` (in another terminal).`);
    return 1;
  }
  const client = new LatchkeyClient({ issuer: demo.issuer, clientId: demo.cliClientId });
  const tokenFile = join(io.dataDir, 'cli-tokens.json');
  const save = (tokens: TokenSet) => {
    writeFileSync(tokenFile, `${JSON.stringify(tokens)}\n`, { mode: 0o600 });
    chmodSync(tokenFile, 0o600);
  };
  const load = (): TokenSet | undefined => (existsSync(tokenFile) ? (JSON.parse(readFileSync(tokenFile, 'utf8')) as TokenSet) : undefined);

  async function login(): Promise<TokenSet> {
    const authorization = await client.startDeviceAuthorization({ scope: CLI_SCOPE });
    io.print(`To sign in, open ${authorization.verificationUri} and enter the code ${authorization.userCode}`);
    if (authorization.verificationUriComplete) io.print(`(or open ${authorization.verificationUriComplete})`);
    io.print('Waiting for you to approve...');
    const tokens = await client.pollDeviceToken(authorization, { signal: io.signal });
    save(tokens);
    io.print(`Signed in as ${tokens.idTokenClaims?.preferred_username ?? tokens.idTokenClaims?.sub}.`);
    return tokens;
  }

  /** A fresh access token: the stored one, refreshed (and rotated) when due, or a new sign-in. */
  async function accessToken(): Promise<{ token: string; username: string }> {
    let tokens = load() ?? (await login());
    for (;;) {
      const session = client.session(tokens, { onTokens: save });
      try {
        const token = await session.getAccessToken();
        return { token, username: String(tokens.idTokenClaims?.preferred_username ?? tokens.idTokenClaims?.sub) };
      } catch (err) {
        const signedOut = err instanceof SessionExpiredError || (err instanceof OAuthError && err.error === 'invalid_grant');
        if (!signedOut) throw err;
        io.print('Your session has ended: sign in again.');
        tokens = await login();
      }
    }
  }

  try {
    if (command === 'login') {
      await login();
      return 0;
    }
    if (command === 'logout') {
      const tokens = load();
      if (tokens?.refreshToken) await client.revoke(tokens.refreshToken, { tokenTypeHint: 'refresh_token' });
      rmSync(tokenFile, { force: true });
      io.print('Signed out.');
      return 0;
    }
    const { token, username } = await accessToken();
    const response = await fetch(`${demo.gatewayUrl}/orders`, { headers: { authorization: `Bearer ${token}` } });
    if (response.status !== 200) {
      io.print(`The gateway answered ${response.status}: ${response.headers.get('www-authenticate') ?? (await response.text())}`);
      return 1;
    }
    const { orders } = (await response.json()) as { orders: Order[] };
    io.print(`Orders of ${username} (GET ${demo.gatewayUrl}/orders, orders:read):`);
    if (orders.length === 0) io.print('  none yet');
    for (const o of orders) {
      const confirmation = o.confirmation.status === 'sent' ? 'confirmation sent' : 'confirmation not sent';
      io.print(`  ${o.id}  ${String(o.quantity).padStart(2)} x ${o.name.padEnd(20)} ${`€${(o.totalCents / 100).toFixed(2)}`.padStart(8)}  ${o.status.padEnd(9)}  ${confirmation}`);
    }
    return 0;
  } catch (err) {
    if (err instanceof LatchkeyClientError) {
      io.print(`error: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort(new Error('interrupted')));
  runCli(process.argv.slice(2), {
    dataDir: process.env.SHOP_DEMO_DATA_DIR || DEFAULT_DATA_DIR,
    print: (line) => console.log(line),
    signal: controller.signal,
  }).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      console.error(controller.signal.aborted ? 'Interrupted.' : err);
      process.exitCode = 1;
    },
  );
}
