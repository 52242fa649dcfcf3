/**
 * GETs a JSON document from the issuer: 200 only, no redirects followed (a redirect could lead the
 * keys elsewhere), within the time limit. Throws a plain Error saying what went wrong.
 */
export async function getJson(fetchImpl: typeof globalThis.fetch, url: string, timeoutSeconds: number): Promise<unknown> {
  const response = await fetchImpl(url, {
    method: 'GET',
    headers: { accept: 'application/json' },
    redirect: 'manual',
    signal: AbortSignal.timeout(timeoutSeconds * 1000),
  });
  return readJson(response, `GET ${url}`);
}

/** The JSON body of a 200 response; anything else is an Error (the body is discarded). */
export async function readJson(response: Response, what: string): Promise<unknown> {
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => {});
    throw new Error(`${what} answered HTTP ${response.status}`);
  }
  try {
    return await response.json();
  } catch (cause) {
    throw new Error(`${what} did not answer JSON`, { cause });
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
