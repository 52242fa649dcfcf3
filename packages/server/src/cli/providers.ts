import { addProvider, listProviders, publicJwks, removeProvider, type UpstreamProvider } from '../federation/providers.ts';
import { callbackUrl } from '../federation/upstream-login.ts';
import { print, requirePositional, requireString, UsageError, type CommandArgs } from './io.ts';
import { readPassword } from './password-input.ts';
import { databaseWords, withContext } from './with-context.ts';

/** `providers add|list|remove`: the upstream OpenID providers users may sign in with (federation/providers.ts). */
export async function providersCommand(args: CommandArgs): Promise<number> {
  const sub = args.positionals[0];
  return withContext(args, async (ctx) => {
    switch (sub) {
      case 'add': {
        const secret = args.values['client-secret-stdin'] === true ? await readPassword('client secret: ') : undefined;
        const provider = await addProvider(ctx, {
          id: requirePositional(args.positionals, 'the provider id'),
          issuer: requireString(args.values, 'issuer'),
          clientId: requireString(args.values, 'client-id'),
          displayName: requireString(args.values, 'name'),
          ...(secret !== undefined ? { clientSecret: secret } : {}),
          privateKeyJwt: args.values['private-key-jwt'] === true,
          ...(typeof args.values.scopes === 'string' ? { scopes: args.values.scopes.split(/[\s,]+/).filter((s) => s !== '') } : {}),
          linkByEmail: args.values['link-by-email'] === true,
          createUsers: args.values['no-create'] !== true,
        });
        const jwksUri = `${ctx.settings.issuer}/login/upstream/${provider.id}/jwks`;
        print(
          args,
          { provider: providerJson(provider), redirect_uri: callbackUrl(ctx), ...(provider.privateJwk ? { jwks_uri: jwksUri, jwks: publicJwks(provider) } : {}) },
          `added provider ${provider.id} (${provider.displayName})\nregister this redirect URI at the provider: ${callbackUrl(ctx)}${
            provider.privateJwk ? `\nprivate_key_jwt: register this jwks_uri there: ${jwksUri}\n(or the key itself: ${JSON.stringify(publicJwks(provider))})` : ''
          }`,
        );
        return 0;
      }
      case 'list': {
        const all = await listProviders(ctx);
        print(args, { providers: all.map(providerJson) }, all.length === 0 ? `no providers in ${databaseWords(ctx)}` : all.map((p) => `${p.id}  ${p.displayName}  ${p.issuer}${p.linkByEmail ? '  (links by verified email)' : ''}`).join('\n'));
        return 0;
      }
      case 'remove': {
        const id = requirePositional(args.positionals, 'the provider id');
        const { links } = await removeProvider(ctx, id);
        print(args, { removed: id, links_removed: links }, `removed provider ${id}; ${links} link(s) removed (the users keep their accounts)`);
        return 0;
      }
      default:
        throw new UsageError('providers needs add, list or remove');
    }
  });
}

/** A provider as shown: never its client secret. */
function providerJson(p: UpstreamProvider) {
  const auth = p.privateJwk ? 'private_key_jwt' : p.clientSecret !== null ? 'client_secret_basic' : 'none';
  return { id: p.id, name: p.displayName, issuer: p.issuer, client_id: p.clientId, confidential: auth !== 'none', token_endpoint_auth_method: auth, scopes: p.scopes, link_by_email: p.linkByEmail, create_users: p.createUsers };
}
