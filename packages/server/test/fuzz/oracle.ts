import { createHash } from 'node:crypto';
import { asHeaderName, asHeaderValue, requestText, wellFormed, type FuzzRequest } from './http-model.ts';
import { decodeSegment } from './jwt.ts';
import { REDIRECT_URIS, type World } from './world.ts';

/**
 * What every answer must be, whatever was asked:
 * - never a 5xx (the database is up: not even 503), never a stack trace or internal detail;
 * - JSON errors exactly in the RFC 6749 §5.2 shape: `error` from the endpoint's RFC list,
 *   `error_description` of %x20-21 / %x23-5B / %x5D-7E only, nothing else, with the RFC's status
 *   (401 and WWW-Authenticate for invalid_client, Allow on 405);
 * - userinfo errors with an RFC 6750 Bearer challenge;
 * - pages in HTML with the security headers (CSP with frame-ancestors 'none', X-Frame-Options);
 * - redirects back to a client only to one of its registered redirect URIs, always with `iss`.
 * - registration (RFC 7591, RFC 7592): RFC 7591 §3.2.2 errors, invalid_token with a Bearer challenge,
 *   never cached, and a client registered, read, changed or deleted only with the right token;
 * And which answers accepted the request (only those may write to the database).
 */

export interface Answer {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
}

export interface Verdict {
  problems: string[];
  /** The request was carried out (tokens issued, a code, a session...): writes are expected. */
  accepted: boolean;
  /** A device polled with its own device code: its poll time and interval may change (RFC 8628 §3.5). */
  devicePoll: boolean;
}

/** RFC 6749 §5.2 error and error_description characters. */
const ERROR_CODE = /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/;
const DESCRIPTION = /^[\x20-\x21\x23-\x5B\x5D-\x7E]*$/;

/** The error codes each endpoint's RFCs define. */
export const ENDPOINT_ERRORS: Record<string, readonly string[]> = {
  // RFC 6749 §5.2, RFC 8628 §3.5, RFC 8707 §2, RFC 8693 §2.2.2.
  token: [
    'invalid_request',
    'invalid_client',
    'invalid_grant',
    'unauthorized_client',
    'unsupported_grant_type',
    'invalid_scope',
    'invalid_target',
    'authorization_pending',
    'slow_down',
    'access_denied',
    'expired_token',
    // RFC 9449 §5 and §8.
    'invalid_dpop_proof',
    'use_dpop_nonce',
  ],
  // RFC 9126 §2.3: RFC 6749 §5.2's codes "or from Section 4.1.2.1 of [RFC6749]" (the authorization
  // request's, validated as at /authorize), RFC 8707 §2 invalid_target; OIDC Core §6.1
  // request_not_supported for a request object; RFC 9449 §10.1 and §8, for the proof a pushed request
  // carries.
  par: [
    'invalid_request',
    'invalid_client',
    'unauthorized_client',
    'access_denied',
    'unsupported_response_type',
    'invalid_scope',
    'invalid_target',
    'request_not_supported',
    'invalid_dpop_proof',
    'use_dpop_nonce',
  ],
  // RFC 7662 §2.3 (RFC 6749 §5.2's).
  introspect: ['invalid_request', 'invalid_client', 'unauthorized_client'],
  // RFC 7009 §2.2.1.
  revoke: ['invalid_request', 'invalid_client', 'unauthorized_client', 'unsupported_token_type'],
  // RFC 8628 §3.2 (RFC 6749 §5.2's).
  device_authorization: ['invalid_request', 'invalid_client', 'unauthorized_client', 'invalid_scope'],
  // RFC 6750 §3.1, RFC 9449 §7.1 (a request with the DPoP scheme).
  userinfo: ['invalid_request', 'invalid_token', 'insufficient_scope', 'invalid_dpop_proof', 'use_dpop_nonce'],
  // RFC 7591 §3.2.2 and RFC 7592 §3 (invalid_token: RFC 6750 §3.1, for initial and registration access
  // tokens); invalid_request for what no RFC names: a body too large (413), the rate limit (429), a
  // method the path does not take (405).
  register: ['invalid_redirect_uri', 'invalid_client_metadata', 'invalid_software_statement', 'unapproved_software_statement', 'invalid_token', 'invalid_request'],
};

/** The registration endpoint (RFC 7591) and its client configuration endpoints (RFC 7592). */
const isRegistrationPath = (path: string) => path === '/register' || /^\/register\/[^/]*$/.test(path);
const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'];

/** RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6, RFC 8707 §2 (`invalid_target`): errors an authorization response may carry. */
export const AUTHORIZATION_ERRORS = [
  'invalid_request',
  'unauthorized_client',
  'access_denied',
  'unsupported_response_type',
  'invalid_scope',
  'server_error',
  'temporarily_unavailable',
  'interaction_required',
  'login_required',
  'account_selection_required',
  'consent_required',
  'invalid_request_uri',
  'invalid_request_object',
  'request_not_supported',
  'request_uri_not_supported',
  'registration_not_supported',
  'invalid_target',
];

const JSON_ENDPOINTS = new Map([
  ['/token', 'token'],
  ['/par', 'par'],
  ['/introspect', 'introspect'],
  ['/revoke', 'revoke'],
  ['/device_authorization', 'device_authorization'],
]);
const PAGES = new Set(['/authorize', '/login', '/consent', '/device', '/device/login', '/logout']);

/** The status each error code is answered with. */
function expectedStatuses(error: string): number[] {
  switch (error) {
    case 'invalid_request':
      // 405 wrong method, 408 too slow, 413 too large, 431 headers too large.
      return [400, 405, 408, 413, 431];
    case 'invalid_client':
    case 'invalid_token':
      return [401];
    case 'insufficient_scope':
      return [403];
    case 'not_found':
      return [404];
    case 'invalid_dpop_proof':
    case 'use_dpop_nonce':
      // RFC 9449 §5 (token endpoint: 400) and §7.1, §9 (a protected resource: 401).
      return [400, 401];
    default:
      return [400];
  }
}

/** Signs of the server's insides. Only looked for when the request did not carry the text itself. */
const INTERNALS: [RegExp, string][] = [
  [/\bat (?:async )?[\w$.<>]+ \(|\bat (?:file:|node:|\/)[^\s]*:\d+:\d+/, 'a stack trace'],
  [/node_modules|packages\/server\/src|\/src\/[\w/-]+\.ts/, 'a source path'],
  [/\b(?:TypeError|ReferenceError|RangeError|SyntaxError|AssertionError)\b/, 'a JavaScript error name'],
  [/SQLITE_|SqliteError|better-sqlite3|kysely|violates|constraint failed|duplicate key|relation "|syntax error at or near/i, 'a database error'],
  [/FST_ERR|ERR_[A-Z_]{6,}/, 'a framework error code'],
];

function header(answer: Answer, name: string): string | undefined {
  const value = answer.headers[name];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(', ') : String(value);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Every value a request gives a parameter where the server reads it: the form body (`true`), the
 * query string of a GET and the body of a POST (pages, `'page'`).
 */
function values(request: FuzzRequest, name: string, formOnly: boolean | 'page' = false): string[] {
  const found: string[] = [];
  const from = formOnly === 'page' ? (request.method.toUpperCase() === 'POST' ? 'form' : 'query') : formOnly ? 'form' : 'any';
  for (const p of request.params) {
    if (p.where !== 'form' && p.where !== 'query') continue;
    if (from !== 'any' && p.where !== from) continue;
    // A raw parameter is what the server decodes it to (invalid UTF-8 becomes U+FFFD).
    const [decodedName, value] = p.raw ? ([...new URLSearchParams(`${p.name}=${p.value}`)][0] ?? ['', '']) : [wellFormed(p.name), wellFormed(p.value)];
    if (decodedName === name && value !== '') found.push(value);
  }
  return found;
}

/** The client ids a request names: Basic credentials, client_id, a client assertion's sub. */
export function namedClients(request: FuzzRequest): string[] {
  const ids = values(request, 'client_id', true);
  for (const p of request.params) {
    if (p.where === 'header' && p.name === 'authorization' && /^basic /i.test(p.value)) {
      const decoded = Buffer.from(p.value.slice(6).trim(), 'base64').toString('utf8');
      try {
        ids.push(decodeURIComponent(decoded.split(':')[0]!.replace(/\+/g, ' ')));
      } catch {
        ids.push(decoded);
      }
    }
  }
  for (const assertion of values(request, 'client_assertion', true)) {
    const sub = (decodeSegment(assertion.split('.')[1]) as { sub?: unknown } | undefined)?.sub;
    if (typeof sub === 'string') ids.push(sub);
  }
  return ids;
}

/** RFC 6749 §5.2 body: {"error", "error_description"?} and nothing else. Returns the error code. */
function checkErrorBody(answer: Answer, problems: string[], registration = false): string | undefined {
  const body = parseJson(answer.body);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    problems.push('an error whose body is not a JSON object');
    return undefined;
  }
  const record = body as Record<string, unknown>;
  const extra = Object.keys(record).filter((k) => k !== 'error' && k !== 'error_description');
  if (extra.length > 0) problems.push(`an error body with members other than error and error_description: ${extra.join(', ')}`);
  if (typeof record.error !== 'string' || !ERROR_CODE.test(record.error)) problems.push('an error body without a well-formed "error"');
  if ('error_description' in record) {
    if (typeof record.error_description !== 'string') problems.push('an error_description that is not a string');
    else if (!DESCRIPTION.test(record.error_description)) {
      problems.push(`an error_description with characters RFC 6749 §5.2 forbids: ${JSON.stringify(record.error_description)}`);
    }
  }
  // RFC 7591 §5's rate limit of registrations: invalid_request with 429 (registration/errors.ts).
  const expected = typeof record.error === 'string' ? [...expectedStatuses(record.error), ...(registration && record.error === 'invalid_request' ? [429] : [])] : [];
  if (typeof record.error === 'string' && !expected.includes(answer.statusCode)) {
    problems.push(`error "${record.error}" answered with status ${answer.statusCode} (expected ${expected.join(' or ')})`);
  }
  return typeof record.error === 'string' ? record.error : undefined;
}

function checkPageHeaders(answer: Answer, problems: string[]): void {
  const csp = header(answer, 'content-security-policy') ?? '';
  if (!/frame-ancestors 'none'/.test(csp)) problems.push('an HTML page without Content-Security-Policy frame-ancestors \'none\'');
  if ((header(answer, 'x-frame-options') ?? '').toUpperCase() !== 'DENY') problems.push('an HTML page without X-Frame-Options: DENY');
}

/**
 * RFC 6750 §3: `Bearer realm="...", error="<code>", error_description="..."` with the body's code; or,
 * for a request that used the DPoP scheme, RFC 9449 §7.1's `DPoP algs="...", error="<code>"`.
 */
function checkBearerChallenge(answer: Answer, error: string | undefined, problems: string[]): void {
  const challenge = header(answer, 'www-authenticate');
  if (!challenge || !/^(Bearer|DPoP)\b/i.test(challenge)) {
    problems.push(`a userinfo error (${answer.statusCode}) without a WWW-Authenticate: Bearer challenge (RFC 6750 §3)`);
    return;
  }
  if (error !== undefined && !challenge.includes(`error="${error}"`)) problems.push(`a Bearer challenge that does not name the error "${error}": ${challenge}`);
  // auth-param values are quoted-strings of the characters RFC 6750 §3 allows: no quote, no backslash.
  // A bare challenge (a HEAD request) offers both schemes: `Bearer realm="..."`, then `DPoP algs="..."`.
  const q = String.raw`"[\x20-\x21\x23-\x5B\x5D-\x7E]*"`;
  if (!new RegExp(`^(?:Bearer realm=${q}|DPoP algs=${q})(?:, (?:[a-z_]+=${q}|DPoP algs=${q}))*$`).test(challenge)) {
    problems.push(`a malformed Bearer challenge: ${challenge}`);
  }
}

/** Whether `location` is one of the client's registered redirect URIs (a loopback one with any port, RFC 8252 §7.3). */
function isRegisteredRedirect(location: URL): boolean {
  const bare = `${location.protocol}//${location.host}${location.pathname}`;
  const scheme = `${location.protocol}${location.pathname}`;
  for (const registered of REDIRECT_URIS) {
    const r = new URL(registered);
    if (registered === bare || registered === scheme) return true;
    if (r.protocol === 'http:' && location.protocol === 'http:' && r.hostname === location.hostname && r.pathname === location.pathname) return true;
  }
  return false;
}

/** A redirect away from the issuer: to a registered redirect URI, with `iss`, and a code or an RFC error. */
function checkClientRedirect(world: World, request: FuzzRequest, location: string, problems: string[]): { code: boolean } {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    problems.push(`a redirect to an unparseable location: ${location}`);
    return { code: false };
  }
  const clientIds = values(request, 'client_id', 'page');
  const known = new Set(Object.values(world.clients).map((c) => c.clientId));
  if (clientIds.length !== 1 || !known.has(clientIds[0]!)) problems.push(`a redirect to the client although the request named no single registered client_id (${JSON.stringify(clientIds)})`);
  if (!isRegisteredRedirect(url)) problems.push(`a redirect to an unregistered URI: ${location}`);
  if (url.hash !== '') problems.push(`a redirect with a fragment: ${location}`);
  const q = url.searchParams;
  if (q.getAll('iss').length !== 1 || q.get('iss') !== world.issuer) problems.push(`an authorization response without iss=${world.issuer} (RFC 9207): ${location}`);
  const code = q.getAll('code');
  const error = q.getAll('error');
  if (code.length + error.length !== 1) problems.push(`an authorization response without exactly one code or error: ${location}`);
  if (error.length === 1) {
    if (!AUTHORIZATION_ERRORS.includes(error[0]!)) problems.push(`an authorization error that RFC 6749 §4.1.2.1 does not define: ${error[0]}`);
    const description = q.get('error_description');
    if (description !== null && !DESCRIPTION.test(description)) problems.push(`an error_description with forbidden characters in a redirect: ${JSON.stringify(description)}`);
  }
  const states = values(request, 'state', 'page');
  if (states.length === 1 && q.getAll('state').length === 1 && q.get('state') !== states[0]) problems.push('an authorization response whose state is not the request\'s');
  if (states.length === 0 && q.has('state')) problems.push('an authorization response with a state the request did not send');
  return { code: code.length === 1 };
}

function cookieStarted(answer: Answer, name: string): boolean {
  const setCookie = answer.headers['set-cookie'];
  const list = setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [String(setCookie)];
  return list.some((c) => c.startsWith(`${name}=`) && !c.startsWith(`${name}=;`));
}

/**
 * Judges one answer. `beforeRouting`: the answer came from Node's HTTP parser before any route ran
 * (server's clientErrorReply): it cannot know a page was asked for, and answers in the JSON shape.
 */
export function judge(world: World, request: FuzzRequest, answer: Answer, options: { beforeRouting?: boolean } = {}): Verdict {
  const problems: string[] = [];
  const status = answer.statusCode;
  // HEAD runs the GET route (Fastify), so it is judged as a GET without a body.
  const method = request.method.toUpperCase() === 'HEAD' ? 'GET' : request.method.toUpperCase();
  const path = request.path.split('?')[0]!;
  const type = header(answer, 'content-type') ?? '';
  const isJson = type.startsWith('application/json');
  const isHtml = type.startsWith('text/html');
  const head = request.method.toUpperCase() === 'HEAD';
  let accepted = false;
  let devicePoll = false;

  if (status >= 500) problems.push(`status ${status}`);
  if (status < 200 || (status >= 300 && status < 400 && status !== 303 && status !== 302) || status >= 600) problems.push(`unexpected status ${status}`);
  if (status === 417 && !options.beforeRouting) problems.push('a 417 from a route');

  let echoed: string | undefined;
  for (const [pattern, what] of INTERNALS) {
    const found = pattern.exec(answer.body);
    if (!found) continue;
    echoed ??= requestText(request).toLowerCase();
    if (!echoed.includes(found[0].toLowerCase())) problems.push(`${what} in the body: ${JSON.stringify(found[0])}`);
  }
  if (isHtml) checkPageHeaders(answer, problems);

  let error: string | undefined;
  if (status >= 400 && !head) {
    if (isJson) error = checkErrorBody(answer, problems, isRegistrationPath(path));
    else if (isHtml) {
      if (status >= 500) problems.push('an HTML error page with a 5xx');
    } else if (answer.body !== '') problems.push(`an error (${status}) whose body is neither JSON nor HTML (Content-Type: ${type || 'none'})`);
  }
  if (status === 401 && !header(answer, 'www-authenticate')) problems.push('a 401 without WWW-Authenticate (RFC 9110 §15.5.2)');
  if (options.beforeRouting) return finish(problems, false, false);
  if (error === 'invalid_client' && !/^Basic /i.test(header(answer, 'www-authenticate') ?? '')) problems.push('invalid_client without a WWW-Authenticate challenge (RFC 6749 §5.2)');
  if (status === 405 && !header(answer, 'allow')) problems.push('a 405 without Allow');

  const endpoint = JSON_ENDPOINTS.get(path);
  if (endpoint !== undefined && method === 'POST') {
    if (status >= 400) {
      if (!isJson) problems.push(`a ${endpoint} error that is not JSON`);
      if (error !== undefined && !ENDPOINT_ERRORS[endpoint]!.includes(error)) problems.push(`${endpoint} answered error "${error}", which its RFC does not define`);
      if (header(answer, 'cache-control') !== 'no-store') problems.push(`a ${endpoint} error without Cache-Control: no-store`);
    } else if (status === 201 && endpoint === 'par') {
      accepted = true;
      checkPushedResponse(world, answer, problems);
      checkAcceptedProof(world, request, path, problems);
    } else if (status === 200 && endpoint !== 'par') {
      accepted = endpoint !== 'introspect';
      const body = endpoint === 'revoke' ? undefined : parseJson(answer.body);
      if (endpoint === 'token') {
        checkTokenType(request, body, problems);
        checkAcceptedProof(world, request, path, problems);
      }
      if (endpoint === 'introspect' && typeof (body as { active?: unknown })?.active !== 'boolean') problems.push('an introspection response without active');
      if (endpoint === 'revoke') {
        if (answer.body !== '') problems.push('a revocation response with a body');
        // RFC 7009 §2.2: unknown and invalid tokens are answered 200 too; only a live token's revocation writes.
        const tokens = values(request, 'token', true);
        accepted = tokens.length === 1 && world.isLiveToken(tokens[0]!);
      }
      if (header(answer, 'cache-control') !== 'no-store') problems.push(`a ${endpoint} response without Cache-Control: no-store`);
    } else problems.push(`${endpoint} answered ${status}`);
    if (endpoint === 'token') {
      const deviceCodes = values(request, 'device_code', true);
      const owner = deviceCodes.length === 1 ? world.deviceCodeOwner(deviceCodes[0]!) : undefined;
      const named = namedClients(request);
      devicePoll = owner !== undefined && named.length > 0 && named.every((id) => id === owner);
    }
  } else if (path === '/userinfo' && (method === 'GET' || method === 'POST')) {
    if (status === 200) {
      if (!head && typeof (parseJson(answer.body) as { sub?: unknown })?.sub !== 'string') problems.push('a userinfo response without sub');
    } else if (status >= 400 && head) {
      checkBearerChallenge(answer, undefined, problems);
    } else if (status === 401 && answer.body === '') {
      // RFC 6750 §3.1: no token at all is answered with a bare challenge, without an error code; the
      // DPoP scheme is offered beside it (RFC 9449 §7.1), with its algorithms and no error either.
      if (!/^Bearer realm="[^"\\]*", DPoP algs="[A-Za-z0-9 ]+"$/.test(header(answer, 'www-authenticate') ?? '')) problems.push(`a bare 401 whose challenge is not a bare Bearer challenge: ${header(answer, 'www-authenticate')}`);
    } else if (status >= 400) {
      if (!isJson) problems.push('a userinfo error that is not JSON');
      if (error !== undefined && !ENDPOINT_ERRORS.userinfo!.includes(error)) problems.push(`userinfo answered error "${error}", which RFC 6750 does not define`);
      checkBearerChallenge(answer, error, problems);
    }
  } else if (PAGES.has(path) && (method === 'GET' || method === 'POST')) {
    if (status === 302 || status === 303) {
      const location = header(answer, 'location') ?? '';
      if (location.startsWith('/') && !location.startsWith('//')) {
        // A next step on the issuer itself (login, consent, the device page).
        if (!/^\/(login|consent|device)(\?|$)/.test(location) && path !== '/logout') problems.push(`a redirect to an unexpected issuer page: ${location}`);
      } else if (location.startsWith(`${world.issuer}/`)) {
        // fine: an absolute URL on the issuer
      } else if (path !== '/logout') {
        accepted = checkClientRedirect(world, request, location, problems).code;
      }
    } else if (status === 200) {
      if (!isHtml && !head) problems.push('a page answered 200 without HTML');
    } else if (status >= 400 && !isHtml && !head && !(status === 404 && error === 'not_found')) {
      // (404 not_found: no page at this path for this method, like any unknown route.)
      problems.push(`a page answered ${status} with ${type || 'no content type'} instead of an HTML page with the security headers`);
    }
    if (![200, 302, 303, 400, 401, 403, 404, 413, 429].includes(status)) problems.push(`a page answered ${status}`);
    if ((path === '/login' || path === '/device/login') && method === 'POST' && cookieStarted(answer, 'latchkey_session')) accepted = true;
    if (path === '/device' && method === 'POST' && status === 200) {
      const decisions = values(request, 'decision', true);
      accepted = decisions.length === 1 && (decisions[0] === 'allow' || decisions[0] === 'deny');
    }
  } else if (isRegistrationPath(path) && ['GET', 'POST', 'PUT', 'DELETE'].includes(method)) {
    accepted = checkRegistration(world, request, answer, { method, path, error, head, isJson }, problems);
  } else if (status >= 400 && !head && !isJson && !isHtml && answer.body !== '') {
    problems.push(`an error (${status}) that is neither JSON nor HTML`);
  }
  return finish(problems, accepted, devicePoll);
}

/** The values of the request's DPoP headers (RFC 9449 §4.1). */
function dpopHeaders(request: FuzzRequest): string[] {
  return request.params.filter((p) => p.where === 'header' && asHeaderName(p.name) === 'dpop').map((p) => asHeaderValue(p.value));
}

/**
 * A token response (RFC 6749 §5.1) with an access token, whose type says how it may be used: `DPoP`
 * when the request carried a proof (RFC 9449 §5: the token is bound to the proof's key, `cnf.jkt` its
 * thumbprint in a JWT access token), `Bearer` when it carried none.
 */
function checkTokenType(request: FuzzRequest, body: unknown, problems: string[]): void {
  const response = body as { access_token?: unknown; token_type?: unknown } | undefined;
  if (typeof response?.access_token !== 'string') {
    problems.push('a 200 token response without access_token');
    return;
  }
  const proofs = dpopHeaders(request);
  const expected = proofs.length > 0 ? 'DPoP' : 'Bearer';
  if (response.token_type !== expected) problems.push(`a token response of type ${JSON.stringify(response.token_type)} to a request ${proofs.length > 0 ? 'with' : 'without'} a DPoP proof (expected ${expected})`);
  const jkt = (decodeSegment(response.access_token.split('.')[1]) as { cnf?: { jkt?: unknown } } | undefined)?.cnf?.jkt;
  if (proofs.length === 0 && jkt !== undefined) problems.push('an access token bound to a DPoP key (cnf.jkt) issued without a proof');
  if (proofs.length === 1 && response.access_token.split('.').length === 3) {
    const jwk = (decodeSegment(proofs[0]!.split('.')[0]) as { jwk?: { crv?: string; kty?: string; x?: string; y?: string } } | undefined)?.jwk;
    if (jwk?.kty === 'EC' && jkt !== jwkThumbprint(jwk)) problems.push(`an access token whose cnf.jkt (${String(jkt)}) is not the thumbprint of the proof's key`);
  }
}

/** RFC 9449 §4.2, §4.3: the algorithms Latchkey takes for proofs (dpop_signing_alg_values_supported). */
const DPOP_ALGS = ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA'];

/**
 * RFC 9449 §4.3: the DPoP proof of a request that was carried out passes every check there is to see
 * from outside: one header, `typ` dpop+jwt, an asymmetric `alg`, a public asymmetric `jwk`, `htm` POST,
 * `htu` the endpoint (query and fragment ignored), `iat` within the proof's lifetime, and a `jti` no
 * earlier accepted request used (§11.1). The signature by that key shows in the token's cnf.jkt.
 */
function checkAcceptedProof(world: World, request: FuzzRequest, path: string, problems: string[]): void {
  const proofs = dpopHeaders(request);
  if (proofs.length === 0) return;
  // §4.3 item 1: "that there is not more than one DPoP HTTP request header field".
  if (proofs.length > 1) {
    problems.push(`a request carried out with ${proofs.length} DPoP headers`);
    return;
  }
  const [encodedHeader, encodedClaims] = proofs[0]!.split('.');
  const header = decodeSegment(encodedHeader) as { typ?: unknown; alg?: unknown; jwk?: Record<string, unknown> } | undefined;
  const claims = decodeSegment(encodedClaims) as { htm?: unknown; htu?: unknown; iat?: unknown; jti?: unknown } | undefined;
  const failed: string[] = [];
  if (header?.typ !== 'dpop+jwt') failed.push('typ');
  if (typeof header?.alg !== 'string' || !DPOP_ALGS.includes(header.alg)) failed.push('alg');
  const jwk = header?.jwk;
  if (typeof jwk !== 'object' || jwk === null || 'd' in jwk || jwk.kty === 'oct') failed.push('jwk');
  if (claims?.htm !== 'POST') failed.push('htm');
  if (typeof claims?.htu !== 'string' || claims.htu.replace(/[?#].*$/s, '') !== `${world.issuer}${path}`) failed.push('htu');
  const now = Math.floor(Date.now() / 1000);
  // The proof's lifetime, and a minute for the clock tolerance and the run itself.
  if (typeof claims?.iat !== 'number' || Math.abs(now - claims.iat) > world.ctx.settings.dpopProofMaxAgeSeconds + 60) failed.push('iat');
  // §11.1: Latchkey records a proof as the key's thumbprint and its jti (resource-server's dpop.ts), so
  // the same jti under another key is another proof; the same key never gets a jti twice.
  const keyId = typeof jwk !== 'object' || jwk === null ? '' : jwk.kty === 'EC' ? jwkThumbprint(jwk as { crv?: string; x?: string; y?: string }) : JSON.stringify(jwk);
  const used = `${keyId}\0${String(claims?.jti)}`;
  if (typeof claims?.jti !== 'string' || claims.jti === '') failed.push('jti');
  else if (world.acceptedDpopJtis.has(used)) failed.push('jti used before');
  else world.acceptedDpopJtis.add(used);
  if (failed.length > 0) problems.push(`a request carried out with a DPoP proof that fails RFC 9449 §4.3 (${failed.join(', ')})`);
}

/** RFC 7638 thumbprint of an EC public JWK. */
function jwkThumbprint(jwk: { crv?: string; kty?: string; x?: string; y?: string }): string {
  return createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })).digest('base64url');
}

/**
 * RFC 9126 §2.2: 201 Created, `request_uri` (Latchkey's: the urn prefix and 256 random bits) and
 * `expires_in` (LATCHKEY_PAR_TTL_SECONDS), never cached (Cache-Control: no-store, as in §2.2's example
 * and as RFC 6749 §5.1 asks of token responses).
 */
function checkPushedResponse(world: World, answer: Answer, problems: string[]): void {
  const body = parseJson(answer.body) as { request_uri?: unknown; expires_in?: unknown } | undefined;
  if (typeof body?.request_uri !== 'string' || !/^urn:ietf:params:oauth:request_uri:[A-Za-z0-9_-]{43}$/.test(body.request_uri)) {
    problems.push(`a pushed authorization response without a request_uri: ${answer.body.slice(0, 200)}`);
  }
  if (body?.expires_in !== world.ctx.settings.parTtlSeconds) problems.push(`a pushed authorization response whose expires_in is not ${world.ctx.settings.parTtlSeconds}: ${JSON.stringify(body?.expires_in)}`);
  const extra = Object.keys(body ?? {}).filter((k) => k !== 'request_uri' && k !== 'expires_in');
  if (extra.length > 0) problems.push(`a pushed authorization response with other members: ${extra.join(', ')}`);
  if (header(answer, 'cache-control') !== 'no-store') problems.push('a pushed authorization response without Cache-Control: no-store');
}

/** The Bearer tokens of the request's Authorization headers. */
function bearerTokens(request: FuzzRequest): string[] {
  return request.params
    .filter((p) => p.where === 'header' && asHeaderName(p.name) === 'authorization')
    .map((p) => /^Bearer +(\S+)$/i.exec(asHeaderValue(p.value))?.[1])
    .filter((t): t is string => t !== undefined);
}

/**
 * RFC 7591 `POST /register` and RFC 7592 `GET`, `PUT`, `DELETE /register/{client_id}`: every answer
 * JSON (but a 204) and never cached; errors from RFC 7591 §3.2.2 with 400, invalid_token with 401 and
 * a Bearer challenge (RFC 7592 §3: also for a client that does not exist, or that no registration
 * made), invalid_request with 405 (Allow), 413 or 429 (Retry-After); successes in their RFC shape, and
 * only with the live registration access token of the client the path names. Returns whether the
 * request was carried out (a client registered, updated or deleted: it writes).
 */
function checkRegistration(
  world: World,
  request: FuzzRequest,
  answer: Answer,
  r: { method: string; path: string; error: string | undefined; head: boolean; isJson: boolean },
  problems: string[],
): boolean {
  const status = answer.statusCode;
  const manage = r.path !== '/register';
  const what = manage ? `${r.method} /register/{client_id}` : `${r.method} /register`;
  if (header(answer, 'cache-control') !== 'no-store') problems.push(`${what} answered ${status} without Cache-Control: no-store (RFC 7591 §3.2.1, §3.2.2)`);
  if (header(answer, 'pragma') !== 'no-cache') problems.push(`${what} answered ${status} without Pragma: no-cache (RFC 7591 §3.2.1, §3.2.2)`);
  const success = manage ? { GET: 200, PUT: 200, DELETE: 204 }[r.method] : r.method === 'POST' ? 201 : undefined;
  const tokenRequired = manage || world.ctx.settings.registration === 'initial-access-token';
  const allowed = [400, 413, ...(success === undefined ? [405] : [success]), ...(tokenRequired && success !== undefined ? [401] : []), ...(!manage && success ? [429] : [])];
  if (!allowed.includes(status)) problems.push(`${what} answered ${status} (expected ${allowed.join(', ')})`);
  if (status >= 400) {
    if (!r.isJson && !r.head) problems.push(`a registration error (${status}) that is not JSON`);
    if (r.error !== undefined && !ENDPOINT_ERRORS.register!.includes(r.error)) problems.push(`${what} answered error "${r.error}", which RFC 7591 and RFC 7592 do not define`);
    if (status === 401) {
      if (r.error !== undefined && r.error !== 'invalid_token') problems.push(`${what} answered 401 with "${r.error}" instead of invalid_token (RFC 7592 §3, RFC 6750 §3.1)`);
      checkBearerChallenge(answer, r.error, problems);
    }
    if (status === 429 && !/^[1-9]\d*$/.test(header(answer, 'retry-after') ?? '')) problems.push(`a 429 without a Retry-After of seconds: ${header(answer, 'retry-after')}`);
    return false;
  }
  if (status !== success) return false;
  // A success: RFC 7592 requests only with the client's live registration access token.
  let clientId: string | undefined;
  if (manage) {
    try {
      clientId = decodeURIComponent(r.path.slice('/register/'.length));
    } catch {
      problems.push(`${what} answered ${status} for a path that does not decode`);
    }
    const live = clientId === undefined ? undefined : world.registrationToken(clientId);
    if (live === undefined) problems.push(`${what} answered ${status} for a client the run did not register (${JSON.stringify(clientId)})`);
    else if (!bearerTokens(request).includes(live)) problems.push(`${what} answered ${status} without the client's live registration access token`);
  }
  // RFC 7591 §3: with initial-access-token, a registration only with a token that has uses left.
  if (!manage && world.ctx.settings.registration === 'initial-access-token' && !bearerTokens(request).some((t) => world.isLiveInitialAccessToken(t))) {
    problems.push('a registration without a live initial access token');
  }
  if (r.head) return false;
  if (status === 204) {
    if (answer.body !== '') problems.push('a 204 with a body');
    return true;
  }
  const body = parseJson(answer.body) as Record<string, unknown> | undefined;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    problems.push(`${what} answered ${status} without a JSON object`);
    return true;
  }
  if (typeof body.client_id !== 'string' || body.client_id === '') problems.push('a client information response without client_id (RFC 7591 §3.2.1)');
  else {
    if (manage && body.client_id !== clientId) problems.push(`a client information response for ${body.client_id}, not the path's client ${clientId}`);
    if (body.registration_client_uri !== `${world.issuer}/register/${encodeURIComponent(body.client_id)}`) {
      problems.push(`a registration_client_uri that is not the client's: ${JSON.stringify(body.registration_client_uri)}`);
    }
  }
  if (typeof body.registration_access_token !== 'string' || !/^[A-Za-z0-9\-._~+/]+=*$/.test(body.registration_access_token)) {
    problems.push('a client information response without a registration_access_token (RFC 7592 §3)');
  } else if (r.method === 'GET' && !bearerTokens(request).includes(body.registration_access_token)) {
    problems.push('a read answered with another registration access token than the one it was made with');
  } else if (r.method === 'PUT' && bearerTokens(request).includes(body.registration_access_token)) {
    problems.push('an update that kept the registration access token (it is replaced on every update)');
  }
  const method = body.token_endpoint_auth_method;
  if (typeof method !== 'string' || !AUTH_METHODS.includes(method)) problems.push(`a token_endpoint_auth_method the server does not offer: ${JSON.stringify(method)}`);
  const secret = method === 'client_secret_basic' || method === 'client_secret_post';
  if (r.method === 'GET' && 'client_secret' in body) problems.push('a read (RFC 7592 §2.1) that shows the client secret, stored only as its hash');
  if (r.method === 'POST' && secret !== (typeof body.client_secret === 'string')) problems.push(`a new ${String(method)} client ${secret ? 'without' : 'with'} a client_secret`);
  if (!secret && 'client_secret' in body) problems.push(`a ${String(method)} client with a client_secret`);
  if (secret !== ('client_secret_expires_at' in body)) problems.push('client_secret_expires_at present without a secret, or missing with one (RFC 7591 §3.2.1)');
  const grants = body.grant_types;
  if (!Array.isArray(grants) || grants.length === 0 || grants.some((g) => !['authorization_code', 'refresh_token'].includes(g as string))) {
    problems.push(`a registered client with grant types no registered client may have: ${JSON.stringify(grants)}`);
  }
  if (!Array.isArray(body.redirect_uris)) problems.push('a client information response without redirect_uris');
  return r.method !== 'GET';
}

function finish(problems: string[], accepted: boolean, devicePoll: boolean): Verdict {
  return { problems: problems.filter((p) => !ignored(p)), accepted, devicePoll };
}

/**
 * LATCHKEY_FUZZ_IGNORE: regular expressions (separated by `;;`) of problems to look past, to find
 * what else a run turns up while a known violation is being fixed. Never set in CI.
 */
const IGNORED = (process.env.LATCHKEY_FUZZ_IGNORE ?? '')
  .split(';;')
  .filter((s) => s !== '')
  .map((s) => new RegExp(s));

export function ignored(problem: string): boolean {
  return IGNORED.some((re) => re.test(problem));
}
