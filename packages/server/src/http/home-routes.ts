import type { FastifyInstance } from 'fastify';
import { PATHS } from '../config/paths.ts';
import type { ServerContext } from '../context.ts';
import { homePage } from '../ui/home-page.ts';
import { pageTranslator, sendPage } from './page-reply.ts';

/**
 * The issuer's own address (issue 19): a person's browser gets a page saying what this server is, with
 * links to the account page and discovery (no secrets, nothing about users or clients); a program
 * asking for JSON still gets the JSON `not_found` every unknown path answers (RFC 9110 §12.5.1 Accept).
 */
export function registerHomeRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { pathPrefix } = ctx.urls;
  app.get('/', async (request, reply) => {
    const accept = request.headers.accept ?? '';
    // RFC 9110 §12.5.5: the answer depends on Accept; neither is kept by a cache (RFC 9111 §5.2.2.5).
    reply.header('vary', 'Accept');
    if (!/\btext\/html\b/.test(accept)) {
      return reply.code(404).header('cache-control', 'no-store').type('application/json; charset=utf-8').send({ error: 'not_found', error_description: 'no such endpoint' });
    }
    const t = pageTranslator(request);
    return sendPage(
      reply,
      200,
      homePage({
        t,
        assetsPath: `${pathPrefix}/assets`,
        productName: ctx.theme.productName,
        issuer: ctx.settings.issuer,
        discovery: `${pathPrefix}/.well-known/openid-configuration`,
        account: `${pathPrefix}${PATHS.account}`,
        ...(ctx.settings.signup === 'open' ? { signup: `${pathPrefix}${PATHS.signup}` } : {}),
      }),
    );
  });
}
