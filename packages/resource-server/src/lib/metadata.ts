import { getJson, isObject } from './http.ts';
import type { ResolvedIssuerOptions } from './options.ts';

/** Authorization server metadata (RFC 8414 §2), as far as this package reads it. */
export interface IssuerMetadata {
  issuer: string;
  jwks_uri?: unknown;
  introspection_endpoint?: unknown;
  [member: string]: unknown;
}

/**
 * Where the metadata of `issuer` is: RFC 8414 §3.1 first (the well-known segment between the host and
 * the issuer's path), then OpenID Connect Discovery §4 (the issuer followed by the well-known segment).
 */
export function metadataUrls(issuer: string): [string, string] {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`,
  ];
}

/**
 * The issuer's metadata, fetched once and kept. A failure is not kept: the next call tries again
 * (callers rate-limit their own retries).
 */
export class MetadataSource {
  private metadata: IssuerMetadata | undefined;
  private pending: Promise<IssuerMetadata> | undefined;

  private readonly options: ResolvedIssuerOptions;

  constructor(options: ResolvedIssuerOptions) {
    this.options = options;
  }

  get(): Promise<IssuerMetadata> {
    if (this.metadata) return Promise.resolve(this.metadata);
    this.pending ??= this.discover().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** An endpoint URL from the metadata: https, unless the issuer itself is allowed plain http. */
  async endpoint(member: 'jwks_uri' | 'introspection_endpoint'): Promise<string> {
    const value = (await this.get())[member];
    if (typeof value !== 'string') throw new Error(`the issuer metadata has no ${member}`);
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new Error(`the issuer metadata's ${member} is not a URL`);
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && this.options.httpAllowed)) {
      throw new Error(`the issuer metadata's ${member} is not an https URL`);
    }
    return value;
  }

  private async discover(): Promise<IssuerMetadata> {
    const failures: string[] = [];
    for (const url of metadataUrls(this.options.issuer)) {
      try {
        const document = await getJson(this.options.fetch, url, this.options.httpTimeoutSeconds);
        if (!isObject(document)) throw new Error(`${url} is not a JSON object`);
        // RFC 8414 §3.3: the issuer value returned MUST be identical to the issuer identifier into which
        // the well-known URI string was inserted; if they are not identical, the data MUST NOT be used.
        if (document.issuer !== this.options.issuer) throw new Error(`${url} names another issuer`);
        this.metadata = document as IssuerMetadata;
        return this.metadata;
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
    throw new Error(`no usable metadata for ${this.options.issuer}: ${failures.join('; ')}`);
  }
}
