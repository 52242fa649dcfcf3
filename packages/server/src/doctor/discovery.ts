import type { Settings } from '../config/defaults.ts';
import { fetchGuarded, OutboundFetchError, parseJsonBody } from '../lib/outbound-fetch.ts';
import { isLoopbackHost } from './deployment.ts';
import type { Finding } from './finding.ts';

export interface DiscoveryOptions {
  /** The issuer to ask, as given to `--issuer`. */
  issuer: string;
  /** `--allow-loopback`: the server may be on this machine, over http. */
  allowLoopback: boolean;
}

const TIMEOUT_MS = 10_000;
const MAX_BYTES = 256 * 1024;

/** RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path. */
export function metadataUrl(issuer: string): string {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.origin}/.well-known/oauth-authorization-server${path}`;
}

/**
 * Fetches the running server's authorization server metadata (through the guarded fetcher, like every
 * URL the server is given) and checks what it advertises.
 */
export async function discoveryFindings(settings: Settings, options: DiscoveryOptions): Promise<Finding[]> {
  const given = options.issuer.replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    return [unreachable(given, 'is not a URL')];
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    // Not fetched: the guarded fetcher speaks plain http to loopback only.
    return [httpIssuer(given)];
  }
  let metadata: Record<string, unknown>;
  try {
    const response = await fetchGuarded(metadataUrl(given), {
      allowLoopback: options.allowLoopback,
      loopbackSetting: 'latchkey doctor --allow-loopback',
      timeoutMs: TIMEOUT_MS,
      maxBytes: MAX_BYTES,
      accept: 'application/json',
      what: 'the authorization server metadata',
      caFile: settings.outboundCaFile,
    });
    const parsed = parseJsonBody(response, 'the authorization server metadata');
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new OutboundFetchError('the authorization server metadata is not a JSON object');
    metadata = parsed as Record<string, unknown>;
  } catch (err) {
    if (!(err instanceof OutboundFetchError)) throw err;
    return [unreachable(given, err.message)];
  }
  return checkMetadata(metadata, given, settings);
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** The checks on a metadata document that `given` served. */
export function checkMetadata(metadata: Record<string, unknown>, given: string, settings: Settings): Finding[] {
  const findings: Finding[] = [];
  const subject = given;
  const issuer = typeof metadata.issuer === 'string' ? metadata.issuer : '';
  if (issuer !== given) {
    // RFC 8414 §3.3: "The "issuer" value returned MUST be identical to the authorization server's
    // issuer identifier value into which the well-known URI string was inserted".
    findings.push({
      id: 'discovery.issuer-mismatch',
      severity: 'high',
      title: "the metadata's issuer is not the URL it was fetched for",
      detail: `${metadataUrl(given)} says issuer ${issuer || '(none)'}: clients that check it (they must) refuse the server`,
      rfc: 'RFC 8414 §3.3',
      fix: `LATCHKEY_ISSUER=${given} on the server (or run doctor with --issuer ${issuer || '<the issuer>'})`,
      subject,
    });
  } else if (issuer !== settings.issuer) {
    findings.push({
      id: 'discovery.other-settings',
      severity: 'medium',
      title: 'the running server has another issuer than the settings doctor read',
      detail: `the server at ${given} is not configured by the settings this command read (LATCHKEY_ISSUER ${settings.issuer}): the other findings are about those settings`,
      rfc: 'RFC 8414 §2',
      fix: 'run latchkey doctor with the server\'s environment (or --config FILE)',
      subject,
    });
  }
  if (issuer.startsWith('http:') && !isLoopbackHost(new URL(issuer).hostname)) findings.push(httpIssuer(issuer));
  if (metadata.authorization_response_iss_parameter_supported !== true) {
    // RFC 9700 §4.4.2: mix-up defence; RFC 9207 §3: the server advertises that it sends `iss`.
    findings.push({
      id: 'discovery.no-iss-parameter',
      severity: 'medium',
      title: 'the metadata does not advertise the iss authorization response parameter',
      detail: 'authorization_response_iss_parameter_supported is not true: clients cannot rely on iss to detect mix-up attacks',
      rfc: 'RFC 9700 §4.4.2; RFC 9207 §3',
      fix: 'serve the document Latchkey writes (it says true): a proxy or cache in front must not rewrite it',
      subject,
    });
  }
  const grants = strings(metadata.grant_types_supported);
  const responseTypes = strings(metadata.response_types_supported);
  if (grants.includes('implicit') || responseTypes.some((t) => t.split(' ').includes('token'))) {
    // RFC 9700 §2.1.2: "clients SHOULD NOT use the implicit grant (response type "token") or other
    // response types issuing access tokens in the authorization response".
    findings.push({
      id: 'discovery.implicit',
      severity: 'high',
      title: 'the metadata advertises the implicit grant',
      detail: `grant_types_supported ${JSON.stringify(grants)}, response_types_supported ${JSON.stringify(responseTypes)}`,
      rfc: 'RFC 9700 §2.1.2',
      fix: 'serve the document Latchkey writes (response_types_supported ["code"]): a proxy or another server answers here',
      subject,
    });
  }
  if (grants.includes('password')) {
    // RFC 9700 §2.4: "The resource owner password credentials grant MUST NOT be used."
    findings.push({
      id: 'discovery.password',
      severity: 'high',
      title: 'the metadata advertises the resource owner password credentials grant',
      detail: `grant_types_supported ${JSON.stringify(grants)}`,
      rfc: 'RFC 9700 §2.4',
      fix: 'serve the document Latchkey writes (it has no password grant): a proxy or another server answers here',
      subject,
    });
  }
  const pkce = strings(metadata.code_challenge_methods_supported);
  if (!pkce.includes('S256') || pkce.some((m) => m !== 'S256')) {
    // RFC 9700 §2.1.1: "Authorization servers MUST support PKCE ... If a client sends a valid PKCE
    // code_challenge parameter ... the authorization server MUST enforce the correct usage of
    // code_verifier"; "clients SHOULD use PKCE code challenge methods that do not expose the PKCE
    // verifier in the authorization request" (S256, not plain).
    findings.push({
      id: 'discovery.pkce',
      severity: pkce.includes('S256') ? 'medium' : 'high',
      title: 'the metadata does not advertise PKCE with S256 only',
      detail: `code_challenge_methods_supported is ${JSON.stringify(metadata.code_challenge_methods_supported ?? null)}`,
      rfc: 'RFC 9700 §2.1.1; RFC 8414 §2',
      fix: 'serve the document Latchkey writes (["S256"]): a proxy or another server answers here',
      subject,
    });
  }
  return findings;
}

function httpIssuer(issuer: string): Finding {
  return {
    id: 'discovery.http',
    severity: 'high',
    title: 'the running server is reached over plain http',
    detail: `${issuer} is http on a host other than this machine: codes, tokens and passwords cross the network in clear`,
    rfc: 'RFC 8414 §2; RFC 9700 §2.6',
    fix: `LATCHKEY_ISSUER=${issuer.replace(/^http:/, 'https:')} behind TLS, and remove LATCHKEY_ALLOW_INSECURE_ISSUER`,
    subject: issuer,
  };
}

function unreachable(issuer: string, reason: string): Finding {
  return {
    id: 'discovery.unreachable',
    severity: 'high',
    title: "the running server's metadata could not be read",
    detail: `${issuer}: ${reason}`,
    rfc: 'RFC 8414 §3',
    fix: `check that the server runs at ${issuer} (for a server on this machine over http: latchkey doctor --issuer ${issuer} --allow-loopback)`,
    subject: issuer,
  };
}
