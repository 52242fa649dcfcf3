import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { mtlsSettings } from './mtls/client-certificate.ts';
import type { DestinationStream, Logger } from 'pino';
import type { Settings } from './config/defaults.ts';
import { CLOCK_TOLERANCE_SECONDS } from './config/defaults.ts';
import { issuerIsInsecure } from './config/load.ts';
import { ConfigError } from './errors.ts';
import type { ServerContext } from './context.ts';
import { buildApp } from './http/app.ts';
import { Janitor } from './janitor.ts';
import { ensureAdminResource } from './admin/admin-resource.ts';
import { Registry } from './registry/registry.ts';
import { MailOutbox } from './mail/outbox.ts';
import { BackchannelLogoutOutbox } from './logout/backchannel-outbox.ts';
import { loadTheme } from './ui/theme.ts';
import { loadLanguages } from './i18n/operator-catalogs.ts';
import { KeyEncryption } from './keys/key-encryption.ts';
import { KeyRing } from './keys/key-ring.ts';
import { KeyRotationSchedule } from './keys/rotation-schedule.ts';
import { resolveSecret } from './keys/secret.ts';
import { createLogger } from './logger.ts';
import { Storage } from './storage/storage.ts';
import { deriveMacKey } from './ui/csrf.ts';
import { issuerUrls } from './config/issuer-urls.ts';
import { nowSeconds } from './lib/clock.ts';
import { ServerMetrics } from './observability/metrics.ts';
import { startObservability } from './observability/observe-server.ts';

export interface LatchkeyServer {
  context: ServerContext;
  app: FastifyInstance;
  /** Listens on the configured host and port (or the ones given); resolves to the bound address. */
  listen(options?: { port?: number; host?: string }): Promise<string>;
  close(): Promise<void>;
}

/**
 * Opens storage (running migrations), makes sure signing keys exist, and builds the HTTP app. Nothing
 * listens until `listen()`.
 */
export async function createServer(
  settings: Settings,
  options: { logger?: Logger; logDestination?: DestinationStream } = {},
): Promise<LatchkeyServer> {
  const logger = options.logger ?? createLogger(settings.logLevel, options.logDestination);
  const context = await openContext(settings, logger);
  // Rotation (possibly run from the CLI with other settings) keeps old keys for the longest lifetime
  // any node issues: publish ours.
  await context.storage.facts.raiseTo(MAX_ACCESS_TOKEN_TTL_FACT, settings.accessTokenTtlSeconds, nowSeconds());
  await context.storage.facts.raiseTo(MAX_KEY_CACHE_FACT, settings.keyCacheSeconds, nowSeconds());
  // The admin API's built-in resource (admin/admin-resource.ts).
  await ensureAdminResource(new Registry(context.storage));
  // Before the apps are built: their hooks depend on it.
  const observability = await startObservability(context);
  const app = buildApp(context);
  const mtlsApp = settings.mtlsPort > 0 ? buildMtlsApp(context) : undefined;
  const janitor = new Janitor(context);
  janitor.start();
  // Keys that rotate by themselves (LATCHKEY_KEY_ROTATION_DAYS): one node rotates, under a lease.
  const rotation = new KeyRotationSchedule(context, () => keyRetentionSeconds(context));
  rotation.start();
  context.mail.start();
  context.backchannelLogout.start();
  let closed = false;
  return {
    context,
    app,
    async listen(overrides = {}) {
      const port = overrides.port ?? settings.port;
      const host = overrides.host ?? settings.host;
      const address = await app.listen({ port, host }).catch((err: unknown) => {
        throw listenError(err, host, port);
      });
      if (mtlsApp) {
        const mtlsAddress = await mtlsApp.listen({ port: settings.mtlsPort, host: overrides.host ?? settings.host });
        logger.info({ address: mtlsAddress, aliases: mtlsSettings(settings).urls?.issuer }, 'mutual TLS listener is ready');
      }
      await observability.listen(host);
      logger.info({ address, issuer: settings.issuer, database: context.storage.db.location }, 'latchkey is ready');
      const mismatch = loopbackPortMismatch(settings.issuer, address);
      if (mismatch) {
        logger.warn(
          { issuer: settings.issuer, address },
          `LATCHKEY_ISSUER names port ${mismatch.issuerPort} on this machine, but the server listens on port ${mismatch.servedPort}: clients will be sent to ${mismatch.issuerPort}. Set LATCHKEY_ISSUER to match PORT, or leave it unset.`,
        );
      }
      return address;
    },
    async close() {
      if (closed) return;
      closed = true;
      janitor.stop();
      await rotation.stop();
      await app.close();
      await context.mail.stop();
      await context.backchannelLogout.stop();
      await mtlsApp?.close();
      await observability.close();
      await context.storage.close();
    },
  };
}

/**
 * RFC 8705: the second listener, https, asking every client for a certificate. The handshake accepts
 * any certificate (self-signed ones included, §2.2); what a certificate proves is decided per client
 * (mtls/tls-client-auth.ts), and a connection without one is served like any other.
 */
function buildMtlsApp(context: ServerContext): FastifyInstance {
  const { settings } = context;
  return buildApp(context, {
    mtls: true,
    https: {
      cert: readFileSync(settings.mtlsCertFile!),
      key: readFileSync(settings.mtlsKeyFile!),
      requestCert: true,
      rejectUnauthorized: false,
    },
  });
}

/** Settings, storage and keys, without HTTP: what the CLI's registry commands use too. */
export async function openContext(settings: Settings, logger: Logger): Promise<ServerContext> {
  if (issuerIsInsecure(settings)) {
    logger.warn({ issuer: settings.issuer }, 'the issuer uses http: acceptable on localhost for development only');
  }
  const { secret, generatedFile } = resolveSecret(settings);
  if (generatedFile) {
    logger.warn(
      { file: generatedFile },
      'LATCHKEY_SECRET is not set: signing keys are encrypted with a secret generated into the data directory. ' +
        'Set LATCHKEY_SECRET in production (and the same value on every node).',
    );
  }
  if (settings.allowLoopbackJwksUri) {
    logger.warn('LATCHKEY_ALLOW_LOOPBACK_JWKS_URI is on: client jwks_uri may point at this machine, over http too. Development only.');
  }
  if (settings.allowLoopbackBackchannelLogout) {
    logger.warn('LATCHKEY_ALLOW_LOOPBACK_BACKCHANNEL_LOGOUT is on: back-channel logout URIs may point at this machine, over http too. Development only.');
  }
  if (settings.allowLoopbackClientMetadata) {
    logger.warn('LATCHKEY_ALLOW_LOOPBACK_CLIENT_METADATA is on: client_id URLs may point at this machine, over http too. Development only.');
  }
  const storage = await Storage.open(settings);
  try {
    const encryption = new KeyEncryption(secret);
    const keys = new KeyRing(storage.signingKeys, encryption, settings.keyCacheSeconds);
    await keys.initialize();
    const context: ServerContext = {
      settings,
      storage,
      keys,
      encryption,
      logger,
      macKey: deriveMacKey(secret),
      urls: issuerUrls(settings.issuer),
      now: nowSeconds,
      mail: undefined as unknown as MailOutbox,
      backchannelLogout: undefined as unknown as BackchannelLogoutOutbox,
      metrics: undefined as unknown as ServerMetrics,
      theme: loadTheme(settings),
      languages: loadLanguages(settings),
    };
    // The outbox reads the context's clock, which tests may move.
    context.mail = new MailOutbox({ settings, storage, encryption, logger, now: () => context.now() });
    context.backchannelLogout = new BackchannelLogoutOutbox({ settings, storage, keys, logger, now: () => context.now() });
    context.metrics = new ServerMetrics({ signingKeys: () => storage.signingKeys.listPublished(context.now()), now: () => context.now() });
    return context;
  } catch (err) {
    await storage.close();
    throw err;
  }
}

const MAX_ACCESS_TOKEN_TTL_FACT = 'max_access_token_ttl_seconds';
const MAX_KEY_CACHE_FACT = 'max_key_cache_seconds';

/**
 * How long a retired key stays published: the longest access-token lifetime any node or resource
 * issues, plus the interval in which nodes may still sign with it, plus clock tolerance and a minute.
 * The nodes' own settings come from the database, so the CLI computes the same with other settings.
 */
export async function keyRetentionSeconds(ctx: ServerContext): Promise<number> {
  const resources = await ctx.storage.resources.list();
  const longest = Math.max(
    ctx.settings.accessTokenTtlSeconds,
    (await ctx.storage.facts.get(MAX_ACCESS_TOKEN_TTL_FACT)) ?? 0,
    ...resources.map((r) => r.accessTokenTtlSeconds ?? 0),
  );
  const cache = Math.max(ctx.settings.keyCacheSeconds, (await ctx.storage.facts.get(MAX_KEY_CACHE_FACT)) ?? 0);
  return longest + cache + CLOCK_TOLERANCE_SECONDS + 60;
}

/**
 * An issuer on this machine (localhost, 127.x, [::1]) whose port is not the one being served: every
 * endpoint in discovery would point at another port, possibly another server. A proxy in front on
 * the issuer's port is the one reason to do this on purpose; the warning says what was seen.
 */
export function loopbackPortMismatch(issuer: string, address: string): { issuerPort: number; servedPort: number } | undefined {
  const url = new URL(issuer);
  const host = url.hostname;
  if (!(host === 'localhost' || host === '[::1]' || host.startsWith('127.'))) return undefined;
  const issuerPort = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const servedPort = Number(new URL(address).port);
  return servedPort && issuerPort !== servedPort ? { issuerPort, servedPort } : undefined;
}

/** Why the server could not listen, naming the setting to change (HOST or PORT). */
function listenError(err: unknown, host: string, port: number): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EADDRINUSE':
      return new ConfigError(`port ${port} on ${host} is already in use (PORT): stop what runs there or choose another port`);
    case 'EACCES':
      return new ConfigError(`port ${port} needs privileges this user does not have (PORT): use a port above 1023`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ConfigError(`HOST "${host}" does not resolve to an address of this machine (${code})`);
    case 'EADDRNOTAVAIL':
      return new ConfigError(`HOST "${host}" is not an address of this machine (EADDRNOTAVAIL): use 127.0.0.1, 0.0.0.0 or one of its interfaces`);
    default:
      return err;
  }
}
