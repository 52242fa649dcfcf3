import type { InjectOptions } from 'fastify';

/**
 * The fuzzers' request model: a method, a path and a flat list of parameters (form body, query
 * string, headers, cookies), which mutations edit one at a time, compiled at the end to what Fastify's
 * `inject` or a raw socket sends.
 */

export type Where = 'form' | 'query' | 'header' | 'cookie' | 'json';

export interface Param {
  where: Where;
  name: string;
  value: string;
  /** Sent as written (a percent-encoding of invalid UTF-8, a lone `%`), not form-encoded. */
  raw?: boolean;
  /** A member of a JSON body (`where: 'json'`): its value as JSON text; absent, `value` is sent as a JSON string. */
  json?: string;
}

export interface FuzzRequest {
  /** The endpoint the request was made for (what the oracle checks it against and the counter counts). */
  endpoint: string;
  method: string;
  path: string;
  params: Param[];
  /** The Content-Type header: undefined for the natural one (a form for a POST), null for none. */
  contentType?: string | null;
  /** A body sent instead of the encoded form parameters. */
  body?: string | Buffer;
  /**
   * The body is a JSON object (RFC 7591 registration): its members are the `json` parameters, in
   * order, duplicates kept (written as text, so a member can appear twice); the natural Content-Type is
   * application/json. Without it `json` parameters are not sent.
   */
  json?: boolean;
  remoteAddress?: string;
}

/** The string as UTF-8 can carry it: a lone surrogate becomes U+FFFD. */
export function wellFormed(value: string): string {
  return value.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

/** application/x-www-form-urlencoded, as URLSearchParams writes it. */
export function formEncode(value: string): string {
  return encodeURIComponent(wellFormed(value)).replace(/%20/g, '+');
}

function encodePairs(params: Param[]): string {
  return params.map((p) => `${p.raw ? p.name : formEncode(p.name)}=${p.raw ? p.value : formEncode(p.value)}`).join('&');
}

/**
 * What Node's HTTP parser would hand the server for a header value: the bytes read as latin1, no
 * control characters but tab (the parser refuses those: the raw-socket share sends them), no
 * surrounding whitespace.
 */
export function asHeaderValue(value: string): string {
  return Buffer.from(value, 'utf8')
    .toString('latin1')
    .replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '')
    .replace(/^[ \t]+|[ \t]+$/g, '');
}

/** A header name as a token (RFC 9110 §5.6.2); anything else is dropped. */
export function asHeaderName(name: string): string {
  const token = name.replace(/[^!#$%&'*+\-.^_`|~0-9A-Za-z]/g, '');
  return token === '' ? 'x-fuzz' : token.toLowerCase();
}

/** A cookie pair as it can appear in a Cookie header (no `;`, no controls). */
function cookiePair(p: Param): string {
  return `${asHeaderValue(p.name).replace(/[;=,\s]/g, '')}=${asHeaderValue(p.value).replace(/;/g, '')}`;
}

export function queryString(request: FuzzRequest): string {
  return encodePairs(request.params.filter((p) => p.where === 'query'));
}

export function requestTarget(request: FuzzRequest): string {
  const query = queryString(request);
  return query === '' ? request.path : `${request.path}?${query}`;
}

export function requestBody(request: FuzzRequest): string | Buffer | undefined {
  if (request.body !== undefined) return request.body;
  if (request.json) return jsonObjectText(request.params.filter((p) => p.where === 'json'));
  const form = request.params.filter((p) => p.where === 'form');
  if (form.length === 0) return request.method === 'POST' ? '' : undefined;
  return encodePairs(form);
}

/** A JSON object of the members as written, in order (a repeated name is written twice). */
export function jsonObjectText(members: Param[]): string {
  return `{${members.map((p) => `${JSON.stringify(p.name)}:${p.json ?? JSON.stringify(p.value)}`).join(',')}}`;
}

/** Headers as Node would present them: duplicates as arrays (light-my-request joins them as Node does). */
export function requestHeaders(request: FuzzRequest): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  const add = (name: string, value: string) => {
    const existing = headers[name];
    if (existing === undefined) headers[name] = value;
    else headers[name] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  };
  for (const p of request.params) if (p.where === 'header') add(asHeaderName(p.name), asHeaderValue(p.value));
  const cookies = request.params.filter((p) => p.where === 'cookie');
  if (cookies.length > 0) add('cookie', cookies.map(cookiePair).join('; '));
  const body = requestBody(request);
  if (request.contentType === undefined) {
    if (body !== undefined) add('content-type', request.json ? 'application/json' : 'application/x-www-form-urlencoded');
  } else if (request.contentType !== null) {
    add('content-type', asHeaderValue(request.contentType));
  }
  return headers;
}

export function injectOptions(request: FuzzRequest): InjectOptions {
  const body = requestBody(request);
  return {
    method: request.method as InjectOptions['method'],
    url: requestTarget(request),
    headers: requestHeaders(request),
    ...(body !== undefined ? { payload: body } : {}),
    ...(request.remoteAddress ? { remoteAddress: request.remoteAddress } : {}),
  };
}

/** All of a request's text, to tell echoes of its input from leaks of the server's internals. */
export function requestText(request: FuzzRequest): string {
  const body = requestBody(request);
  return [
    request.method,
    request.path,
    ...request.params.flatMap((p) => [p.name, p.value, p.json ?? '']),
    request.contentType ?? '',
    body === undefined ? '' : Buffer.isBuffer(body) ? body.toString('latin1') : body,
  ].join('\n');
}

const clip = (text: string, max = 600) => (text.length > max ? `${text.slice(0, max)}... (${text.length} characters)` : text);

/** The request as it was sent, for failure messages. */
export function describeRequest(request: FuzzRequest): string {
  const options = injectOptions(request);
  const body = requestBody(request);
  const lines = [`${options.method} ${clip(String(options.url))}`];
  for (const [name, value] of Object.entries(options.headers ?? {})) lines.push(`${name}: ${clip(JSON.stringify(value))}`);
  if (request.remoteAddress) lines.push(`(from ${request.remoteAddress})`);
  if (body !== undefined) lines.push('', clip(Buffer.isBuffer(body) ? `<bytes ${body.toString('hex')}>` : JSON.stringify(body)));
  return lines.join('\n');
}
