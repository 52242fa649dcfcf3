import { InvalidRequest } from '../errors.ts';

/**
 * A parsed `application/x-www-form-urlencoded` body that keeps repeated parameters visible, so the
 * endpoints can refuse them (RFC 6749 §3.1: parameters MUST NOT be included more than once).
 */
export class FormParams {
  private readonly values = new Map<string, string[]>();

  constructor(body: string) {
    for (const [name, value] of new URLSearchParams(body)) {
      const list = this.values.get(name);
      if (list) list.push(value);
      else this.values.set(name, [value]);
    }
  }

  /**
   * The single value of `name`, or undefined. RFC 6749 §3.1: "Parameters sent without a value MUST be
   * treated as if they were omitted from the request." A repeated parameter is `invalid_request`.
   */
  get(name: string): string | undefined {
    const list = this.values.get(name)?.filter((v) => v !== '');
    if (!list || list.length === 0) return undefined;
    if (list.length > 1) throw new InvalidRequest(`the ${name} parameter must not be repeated`);
    return list[0];
  }

  /** Like get(), but a missing parameter is `invalid_request`. */
  require(name: string): string {
    const value = this.get(name);
    if (value === undefined) throw new InvalidRequest(`the ${name} parameter is required`);
    return value;
  }

  /** Every non-empty value of a parameter that may legitimately repeat (RFC 8707 `resource`). */
  getAll(name: string): string[] {
    return (this.values.get(name) ?? []).filter((v) => v !== '');
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }
}
