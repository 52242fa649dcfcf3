import { isIP } from 'node:net';
import type { Settings } from '../config/defaults.ts';
import { trustedProxies } from '../config/load.ts';
import type { Finding } from './finding.ts';

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** Whether a host name or address is this machine (or a Unix socket path, for PostgreSQL). */
export function isLoopbackHost(host: string): boolean {
  if (LOOPBACK_NAMES.has(host) || host.startsWith('/')) return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** The issuer, the secret, token lifetimes, the database connection, proxies and logs. */
export function deploymentFindings(settings: Settings): Finding[] {
  return [...issuerFindings(settings), ...secretFindings(settings), ...lifetimeFindings(settings), ...databaseFindings(settings), ...proxyFindings(settings), ...mailFindings(settings), ...logFindings(settings)];
}

function issuerFindings(settings: Settings): Finding[] {
  const url = new URL(settings.issuer);
  const httpsIssuer = `https://${url.host}${url.pathname === '/' ? '' : url.pathname}`;
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    // RFC 8414 §2: "The authorization server's issuer identifier, which is a URL that uses the "https"
    // scheme"; RFC 9700 §2.6: authorization responses "MUST NOT be transmitted over unencrypted network connections".
    return [
      {
        id: 'issuer.http',
        severity: 'high',
        title: 'the issuer is plain http on a host other than this machine',
        detail: `LATCHKEY_ISSUER is ${settings.issuer} (allowed only by LATCHKEY_ALLOW_INSECURE_ISSUER=true): codes, tokens and passwords cross the network in clear`,
        rfc: 'RFC 8414 §2; RFC 9700 §2.6',
        fix: `LATCHKEY_ISSUER=${httpsIssuer} and remove LATCHKEY_ALLOW_INSECURE_ISSUER`,
        subject: null,
      },
    ];
  }
  if (url.protocol === 'http:') {
    return [
      {
        id: 'issuer.http-loopback',
        severity: 'info',
        title: 'the issuer is plain http on this machine (development)',
        detail: `LATCHKEY_ISSUER is ${settings.issuer}: only clients on this machine can use it`,
        rfc: 'RFC 8414 §2',
        fix: 'LATCHKEY_ISSUER=https://<public host> when the server is deployed',
        subject: null,
      },
    ];
  }
  if (settings.allowInsecureIssuer) {
    return [
      {
        id: 'issuer.insecure-override',
        severity: 'low',
        title: 'LATCHKEY_ALLOW_INSECURE_ISSUER is on although the issuer is https',
        detail: 'the override is not needed, and would let a mistyped http issuer start',
        rfc: 'RFC 8414 §2',
        fix: 'remove LATCHKEY_ALLOW_INSECURE_ISSUER',
        subject: null,
      },
    ];
  }
  return [];
}

function secretFindings(settings: Settings): Finding[] {
  if (settings.secret === undefined) {
    // RFC 6819 §5.1.4.1.4: credentials kept by the server are encrypted with a key kept apart from them.
    return [
      {
        id: 'secret.generated',
        severity: 'medium',
        title: 'the key-encryption secret was generated into the data directory',
        detail: `LATCHKEY_SECRET is unset: the secret lives in ${settings.dataDir}/secret, next to the encrypted signing keys, so a copy of the directory (a backup) holds both`,
        rfc: 'RFC 6819 §5.1.4.1.4',
        fix: `LATCHKEY_SECRET="$(cat ${settings.dataDir}/secret)" kept in a secret store, then delete ${settings.dataDir}/secret`,
        subject: null,
      },
    ];
  }
  if (settings.secret.length < 32) {
    return [
      {
        id: 'secret.short',
        severity: 'high',
        title: 'LATCHKEY_SECRET is shorter than 32 characters',
        detail: `it is ${settings.secret.length} characters: it encrypts the signing keys and keys the MACs of refresh tokens and forms`,
        rfc: 'RFC 6819 §5.1.4.1.4',
        fix: 'a new secret of 32 random bytes (openssl rand -base64 32) as LATCHKEY_SECRET; signing keys made under the old one must be rotated (latchkey keys rotate --now)',
        subject: null,
      },
    ];
  }
  return [];
}

/** Longer than this, an access token is flagged (low); past an hour, medium. */
const ACCESS_TOKEN_LOW_SECONDS = 15 * 60;
const ACCESS_TOKEN_MEDIUM_SECONDS = 3600;
/** Refresh-token families longer than this are flagged. */
const REFRESH_FAMILY_SECONDS = 90 * 24 * 3600;

/** How long an access token lives, as a finding when too long (also used for resources' own lifetimes). */
export function accessTokenLifetimeFinding(seconds: number, setting: string, fix: string, subject: string | null): Finding | undefined {
  if (seconds <= ACCESS_TOKEN_LOW_SECONDS) return undefined;
  // RFC 6819 §5.1.5.3: "Use Short Expiration Time ... reduces the impact of ... token leaks".
  return {
    id: 'token.access-ttl',
    severity: seconds > ACCESS_TOKEN_MEDIUM_SECONDS ? 'medium' : 'low',
    title: `access tokens live ${seconds} s`,
    detail: `${setting} is ${seconds} s: a leaked access token works that long, and a revoked JWT until it expires at resource servers that do not introspect (5-15 minutes is usual)`,
    rfc: 'RFC 6819 §5.1.5.3; RFC 9700 §4.10',
    fix,
    subject,
  };
}

function lifetimeFindings(settings: Settings): Finding[] {
  const findings: Finding[] = [];
  const access = accessTokenLifetimeFinding(settings.accessTokenTtlSeconds, 'LATCHKEY_ACCESS_TOKEN_TTL_SECONDS', 'LATCHKEY_ACCESS_TOKEN_TTL_SECONDS=600', null);
  if (access) findings.push(access);
  if (settings.refreshTokenTtlSeconds > REFRESH_FAMILY_SECONDS) {
    // RFC 9700 §4.14.2: "Refresh tokens SHOULD expire if the client has been inactive for some time".
    findings.push({
      id: 'token.refresh-ttl',
      severity: 'low',
      title: `refresh-token families live ${Math.round(settings.refreshTokenTtlSeconds / 86400)} days`,
      detail: `LATCHKEY_REFRESH_TOKEN_TTL_SECONDS is ${settings.refreshTokenTtlSeconds}: a stolen family that is never replayed against its owner keeps working that long`,
      rfc: 'RFC 9700 §4.14.2',
      fix: `LATCHKEY_REFRESH_TOKEN_TTL_SECONDS=${30 * 24 * 3600}`,
      subject: null,
    });
  }
  return findings;
}

/** libpq's sslmode values that encrypt the connection (RFC 6819 §5.1.4.1.1's "standard system security means"). */
const TLS_MODES = new Set(['require', 'verify-ca', 'verify-full']);

function databaseFindings(settings: Settings): Finding[] {
  if (settings.databaseUrl === undefined) return [];
  let url: URL;
  try {
    url = new URL(settings.databaseUrl);
  } catch {
    return [];
  }
  const sslmode = url.searchParams.get('sslmode');
  const ssl = url.searchParams.get('ssl');
  if ((sslmode !== null && TLS_MODES.has(sslmode)) || (sslmode === null && (ssl === 'true' || ssl === '1'))) {
    if (sslmode === 'require') {
      return [
        {
          id: 'database.tls-unverified',
          severity: 'low',
          title: "PostgreSQL over TLS without checking the server's certificate",
          detail: `DATABASE_URL has sslmode=require for ${url.host}: the connection is encrypted but anyone in the path can impersonate the database`,
          rfc: 'RFC 6819 §5.1.4.1.1',
          fix: 'DATABASE_URL=...?sslmode=verify-full (with sslrootcert=FILE for a private CA)',
          subject: url.host,
        },
      ];
    }
    return [];
  }
  const host = url.hostname === '' ? url.searchParams.get('host') ?? '/var/run/postgresql' : decodeURIComponent(url.hostname);
  const local = isLoopbackHost(host);
  return [
    {
      id: 'database.no-tls',
      severity: local ? 'low' : 'high',
      title: 'PostgreSQL without TLS',
      detail:
        `DATABASE_URL has ${sslmode === null ? 'no sslmode' : `sslmode=${sslmode}`} for ${url.host || host}: ` +
        (local
          ? 'the connection stays on this machine, but it is in clear (a database moved elsewhere stays so)'
          : 'the database password, users, grants and encrypted keys cross the network in clear'),
      rfc: 'RFC 6819 §5.1.4.1.1',
      fix: 'DATABASE_URL=...?sslmode=verify-full (and ssl on in postgresql.conf)',
      subject: url.host || host,
    },
  ];
}

/** Whether a trusted-proxy entry is so wide that any client can be "a proxy". */
function tooWide(entry: string): boolean {
  const [address, prefix] = entry.split('/');
  if (prefix === undefined || !address) return false;
  return Number(prefix) < (isIP(address) === 4 ? 8 : 16);
}

function proxyFindings(settings: Settings): Finding[] {
  // RFC 9700 §4.13: "the reverse proxy MUST sanitize any inbound requests to ensure the authenticity
  // and integrity of all header values relevant for the security of the application servers."
  const rfc = 'RFC 9700 §4.13';
  if (settings.trustedProxies !== undefined) {
    const proxies = trustedProxies(settings.trustedProxies);
    if (Array.isArray(proxies)) {
      const wide = proxies.filter(tooWide);
      if (wide.length > 0) {
        return [
          {
            id: 'proxy.trust-everyone',
            severity: 'high',
            title: 'trusted proxies include almost every address',
            detail: `LATCHKEY_TRUSTED_PROXIES has ${wide.join(', ')}: any client can set X-Forwarded-For (its address for rate limits and logs) and X-Forwarded-Proto`,
            rfc,
            fix: 'LATCHKEY_TRUSTED_PROXIES=<the address or /24 of your reverse proxy>, e.g. 10.0.0.5 or loopback',
            subject: null,
          },
        ];
      }
    } else if (typeof proxies === 'number') {
      return [
        {
          id: 'proxy.hop-count',
          severity: 'low',
          title: `trusted proxies given as ${proxies} hop(s)`,
          detail: 'a hop count believes whatever the nearest hops say, also when a client reaches the server without the proxy',
          rfc,
          fix: 'LATCHKEY_TRUSTED_PROXIES=<the address of your reverse proxy> (and let only the proxy reach the server)',
          subject: null,
        },
      ];
    }
    return [];
  }
  if (settings.trustProxy) {
    return [
      {
        id: 'proxy.trust-all-hops',
        severity: 'medium',
        title: 'LATCHKEY_TRUST_PROXY believes every X-Forwarded-* header',
        detail: 'any client that reaches the server directly can choose its address (rate limits, logs) and the scheme it is seen to use',
        rfc,
        fix: 'LATCHKEY_TRUSTED_PROXIES=<the address of your reverse proxy>, and remove LATCHKEY_TRUST_PROXY',
        subject: null,
      },
    ];
  }
  return [];
}

function mailFindings(settings: Settings): Finding[] {
  if (settings.smtpUrl === undefined || settings.smtpRequireTls) return [];
  let url: URL;
  try {
    url = new URL(settings.smtpUrl);
  } catch {
    return [];
  }
  if (url.protocol === 'smtps:' || isLoopbackHost(url.hostname)) return [];
  return [
    {
      id: 'mail.no-tls',
      severity: 'medium',
      title: 'mail may be sent without TLS',
      detail: `LATCHKEY_SMTP_URL is smtp:// to ${url.host} and LATCHKEY_SMTP_REQUIRE_TLS is off: a relay that offers no STARTTLS gets password-reset and sign-up links in clear`,
      rfc: 'RFC 8314 §3',
      fix: 'LATCHKEY_SMTP_REQUIRE_TLS=true (or an smtps:// URL)',
      subject: url.host,
    },
  ];
}

function logFindings(settings: Settings): Finding[] {
  if (settings.logLevel !== 'debug' && settings.logLevel !== 'trace') return [];
  return [
    {
      id: 'log.verbose',
      severity: 'low',
      title: `LOG_LEVEL is ${settings.logLevel}`,
      detail: 'verbose logs record more of every request than operations need',
      rfc: 'RFC 6819 §5.1.4.1.1',
      fix: 'LOG_LEVEL=info',
      subject: null,
    },
  ];
}
