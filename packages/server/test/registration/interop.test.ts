import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import * as openidClient from 'openid-client';
import { discoverAuthorizationServerMetadata, registerClient } from '@modelcontextprotocol/sdk/client/auth.js';
import { backends, type Latchkey } from '@latchkey/testing';
import { NOTES, registrationServer } from './support.ts';

/**
 * Registration as real client libraries do it: openid-client's dynamicClientRegistration (discovery,
 * then RFC 7591), and the MCP TypeScript SDK's registerClient, which validates the answer against its
 * own schema of RFC 7591 §3.2.1.
 */

for (const backend of await backends()) {
  describe(`registration interop (${backend.name})`, { skip: backend.skip }, () => {
    let lk: Latchkey;

    before(async () => {
      lk = await registrationServer(backend, { registration: 'open', registrationAllowClientCredentials: true });
    });
    after(async () => {
      await lk?.close();
    });

    test('interop: openid-client discovers the registration endpoint, registers a client_secret_post client and gets a token with it', async () => {
      const config = await openidClient.dynamicClientRegistration(
        new URL(lk.issuer),
        { client_name: 'openid-client app', grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_post', scope: 'notes:read' },
        undefined,
        { execute: [openidClient.allowInsecureRequests] },
      );
      const metadata = config.clientMetadata();
      assert.equal(typeof metadata.client_secret, 'string');
      const tokens = await openidClient.clientCredentialsGrant(config, { scope: 'notes:read' });
      assert.equal(decodeJwt(tokens.access_token).aud, NOTES);
    });

    test('interop: the MCP SDK registers a public native client (no scope sent) and accepts the answer', async () => {
      const metadata = await discoverAuthorizationServerMetadata(lk.issuer);
      assert.ok(metadata?.registration_endpoint);
      const info = await registerClient(lk.issuer, {
        metadata,
        clientMetadata: {
          client_name: 'MCP client',
          redirect_uris: ['http://127.0.0.1:33418/callback'],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          token_endpoint_auth_method: 'none',
        },
      });
      assert.match(info.client_id, /^[0-9a-f]{32}$/);
      assert.equal(info.client_secret, undefined);
      assert.equal(info.scope, 'openid profile email offline_access notes:read');
      assert.equal((await lk.running.registry.getClient(info.client_id)).source, 'dynamic-registration');
    });
  });
}
