import { InvalidResponseError, NetworkError, OAuthError } from '../errors.ts';
import { applyClientAuth, type ClientIdentity } from './client-auth.ts';

/** The shape of the global `fetch`; inject your own (a wrapper, a mock) through the options. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Form parameters; an array repeats the parameter, undefined leaves it out. */
export type FormParams = Record<string, string | readonly string[] | undefined>;

export interface Http {
  fetch: FetchLike;
  /** Per request, in milliseconds. */
  timeoutMs: number;
}

/**
 * One HTTP exchange with the authorization server. Redirects are not followed (a token endpoint
 * that redirects is not one), and every failure to get an answer is a NetworkError.
 */
export async function send(http: Http, url: string, init: RequestInit): Promise<Response> {
  try {
    return await http.fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(http.timeoutMs) });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new NetworkError(`${init.method ?? 'GET'} ${url} failed: ${reason}`, { cause: err });
  }
}

/** POSTs an application/x-www-form-urlencoded body, with the client's authentication when given. */
export async function postForm(http: Http, url: string, params: FormParams, identity: ClientIdentity | undefined): Promise<Response> {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue;
    for (const v of typeof value === 'string' ? [value] : value) body.append(name, v);
  }
  const headers = new Headers({ 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' });
  if (identity) applyClientAuth(identity, body, headers);
  return send(http, url, { method: 'POST', headers, body: body.toString() });
}

/** The JSON object a successful response carries; anything else is an InvalidResponseError. */
export async function readJsonObject(response: Response, what: string): Promise<Record<string, unknown>> {
  const text = await readText(response);
  const parsed = parseJson(text);
  if (!isObject(parsed)) throw new InvalidResponseError(`${what} did not answer with a JSON object`, response.status);
  return parsed;
}

/**
 * The error an unsuccessful response stands for: an OAuthError when it carries an RFC 6749 §5.2 body,
 * else an InvalidResponseError with its status.
 */
export async function errorFromResponse(response: Response, what: string): Promise<OAuthError | InvalidResponseError> {
  const body = parseJson(await readText(response));
  if (isObject(body) && typeof body.error === 'string' && body.error !== '') {
    return new OAuthError(
      {
        error: body.error,
        error_description: typeof body.error_description === 'string' ? body.error_description : undefined,
        error_uri: typeof body.error_uri === 'string' ? body.error_uri : undefined,
      },
      response.status,
    );
  }
  return new InvalidResponseError(`${what} answered HTTP ${response.status} without an OAuth error body`, response.status);
}

/** Throws the response's error unless it is a 200. */
export async function expectOk(response: Response, what: string): Promise<void> {
  if (response.status !== 200) throw await errorFromResponse(response, what);
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

async function readText(response: Response): Promise<string> {
  try {
    return await response.text();
  } catch (err) {
    throw new NetworkError(`the response body could not be read: ${(err as Error).message}`, { cause: err });
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
