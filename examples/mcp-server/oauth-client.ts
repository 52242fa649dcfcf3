import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { type OAuthClientProvider, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';

/**
 * The client side of an MCP connection through Latchkey, with the official SDK: an OAuth provider that
 * keeps everything in memory (a real client keeps tokens in the OS keychain or an encrypted file).
 * How it is known to Latchkey decides the registration path (README, "Use Latchkey with MCP servers"):
 * - `clientMetadataUrl`: its client_id is that URL, whose document Latchkey fetches (CIMD);
 * - `clientInformation`: an operator created it with `latchkey clients create` (pre-registered);
 * - neither: the SDK registers it at Latchkey's registration endpoint (RFC 7591).
 */
export interface ProviderOptions {
  /** Where Latchkey sends the browser back with the code, e.g. http://127.0.0.1:8976/callback. */
  redirectUrl: string;
  clientName?: string;
  clientMetadataUrl?: string;
  clientInformation?: OAuthClientInformationMixed;
  /** Scopes to ask for; default none, so the server's default scopes for the MCP server apply. */
  scope?: string;
}

export class MemoryOAuthProvider implements OAuthClientProvider {
  readonly options: ProviderOptions;
  private information: OAuthClientInformationMixed | undefined;
  private saved: OAuthTokens | undefined;
  private verifier = '';
  /** The last authorization URL the SDK asked to open. */
  authorizationUrl: URL | undefined;
  /** The client information the SDK registered (RFC 7591), if it did. */
  registered: OAuthClientInformationMixed | undefined;

  constructor(options: ProviderOptions) {
    this.options = options;
    this.information = options.clientInformation;
  }

  get redirectUrl(): string {
    return this.options.redirectUrl;
  }

  get clientMetadataUrl(): string | undefined {
    return this.options.clientMetadataUrl;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.options.clientName ?? 'Latchkey MCP example client',
      redirect_uris: [this.options.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      ...(this.options.scope ? { scope: this.options.scope } : {}),
    };
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.information;
  }

  saveClientInformation(information: OAuthClientInformationMixed): void {
    this.information = information;
    this.registered = information;
  }

  tokens(): OAuthTokens | undefined {
    return this.saved;
  }

  saveTokens(tokens: OAuthTokens): void {
    this.saved = tokens;
  }

  redirectToAuthorization(url: URL): void {
    this.authorizationUrl = url;
  }

  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }

  codeVerifier(): string {
    return this.verifier;
  }
}

/**
 * Connects an MCP client to `serverUrl`. On the first 401 the SDK discovers Latchkey (RFC 9728, RFC
 * 8414), registers if it must, and asks for the authorization URL to be opened; `authorize` lets the
 * user sign in and consent there and returns the code from the redirect. Then it connects again.
 */
export async function connect(
  serverUrl: string,
  provider: MemoryOAuthProvider,
  authorize: (authorizationUrl: URL) => Promise<string>,
): Promise<Client> {
  const client = new Client({ name: 'latchkey-mcp-example', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider });
  try {
    await client.connect(transport);
    return client;
  } catch (err) {
    if (!(err instanceof UnauthorizedError) || provider.authorizationUrl === undefined) throw err;
  }
  const code = await authorize(provider.authorizationUrl);
  await transport.finishAuth(code);
  const again = new Client({ name: 'latchkey-mcp-example', version: '1.0.0' });
  await again.connect(new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider }));
  return again;
}
