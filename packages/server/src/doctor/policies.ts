import type { Settings } from '../config/defaults.ts';
import type { Finding } from './finding.ts';

/** Who may register clients and create accounts, and the development-only switches of outbound fetches. */
export function policyFindings(settings: Settings): Finding[] {
  return [...registrationFindings(settings), ...signupFindings(settings), ...loopbackFindings(settings)];
}

function registrationFindings(settings: Settings): Finding[] {
  const findings: Finding[] = [];
  if (settings.registration === 'open') {
    // RFC 7591 §3: "The client registration endpoint MAY be an OAuth 2.0 protected resource and accept
    // an initial access token ... to limit registration to only authorized clients."
    findings.push({
      id: 'registration.open',
      severity: 'medium',
      title: 'anyone may register a client',
      detail: 'LATCHKEY_REGISTRATION is open: any application can register itself and ask your users for consent (its consent page says it is unverified)',
      rfc: 'RFC 7591 §3; RFC 7591 §5',
      fix: 'LATCHKEY_REGISTRATION=initial-access-token, and give each developer a token: latchkey registration tokens create --single-use --expires-in 86400',
      subject: null,
    });
    if (settings.registrationAllowClientCredentials) {
      // RFC 9700 §4.15: a client that chooses its own identity must not obtain tokens that look like a user's.
      findings.push({
        id: 'registration.open-client-credentials',
        severity: 'high',
        title: 'anyone may register a client and obtain tokens with no user behind them',
        detail: 'LATCHKEY_REGISTRATION=open with LATCHKEY_REGISTRATION_ALLOW_CLIENT_CREDENTIALS=true: any caller gets client_credentials tokens for the scopes open to registered clients',
        rfc: 'RFC 9700 §4.15; RFC 7591 §5',
        fix: 'LATCHKEY_REGISTRATION_ALLOW_CLIENT_CREDENTIALS=false (register service clients with latchkey clients create)',
        subject: null,
      });
    }
  }
  if (settings.clientMetadataDocuments === 'all') {
    findings.push({
      id: 'registration.metadata-documents-all',
      severity: 'info',
      title: 'any https client_id is accepted as a client ID metadata document',
      detail: 'LATCHKEY_CLIENT_METADATA_DOCUMENTS is all (the default, for MCP clients): such clients are unverified, get only open scopes, and their consent page says so',
      rfc: 'draft-ietf-oauth-client-id-metadata-document §6',
      fix: 'LATCHKEY_CLIENT_METADATA_DOCUMENTS=allowlist with LATCHKEY_CLIENT_METADATA_HOSTS=<hosts>, or off',
      subject: null,
    });
  }
  return findings;
}

function signupFindings(settings: Settings): Finding[] {
  if (settings.signup !== 'open' || settings.signupEmailDomains.trim() !== '') return [];
  return [
    {
      id: 'signup.open-any-domain',
      severity: 'low',
      title: 'anyone with an email address may create an account',
      detail: 'LATCHKEY_SIGNUP is open and LATCHKEY_SIGNUP_EMAIL_DOMAINS is empty: every application whose consent such a user gives can get tokens for them',
      rfc: 'RFC 6819 §4.4.1.4; NIST SP 800-63A §4',
      fix: 'LATCHKEY_SIGNUP_EMAIL_DOMAINS=example.com (your domains), or LATCHKEY_SIGNUP=invite with latchkey users invite EMAIL',
      subject: null,
    },
  ];
}

/** The switches that let the server fetch loopback addresses over http: development and tests only. */
const LOOPBACK_SWITCHES: { key: keyof Settings; env: string; what: string }[] = [
  { key: 'allowLoopbackJwksUri', env: 'LATCHKEY_ALLOW_LOOPBACK_JWKS_URI', what: "clients' jwks_uri" },
  { key: 'allowLoopbackClientMetadata', env: 'LATCHKEY_ALLOW_LOOPBACK_CLIENT_METADATA', what: 'client_id metadata documents' },
  { key: 'allowLoopbackUpstream', env: 'LATCHKEY_ALLOW_LOOPBACK_UPSTREAM', what: 'upstream identity providers' },
];

function loopbackFindings(settings: Settings): Finding[] {
  return LOOPBACK_SWITCHES.filter((s) => settings[s.key] === true).map((s) => ({
    // RFC 7591 §5: the server fetches URLs a client chose (docs/security.md L78: only through the SSRF guard).
    id: 'outbound.loopback-allowed',
    severity: 'medium' as const,
    title: `${s.env} is on`,
    detail: `${s.what} may point at this machine over http: a client chooses that URL, so it can make the server request its own loopback services (development only)`,
    rfc: 'RFC 7591 §5',
    fix: `remove ${s.env}`,
    subject: null,
  }));
}
