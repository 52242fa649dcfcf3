import { BadRequest } from './problems.ts';

/** The fields of a JSON request body, each read with its type checked (400 naming the field otherwise). */
export class JsonFields {
  private readonly body: Record<string, unknown>;

  constructor(body: unknown, allowed: readonly string[]) {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new BadRequest('the request body must be a JSON object');
    this.body = body as Record<string, unknown>;
    const unknown = Object.keys(this.body).find((k) => !allowed.includes(k));
    if (unknown !== undefined) throw new BadRequest(`unknown field ${unknown} (this request takes ${allowed.join(', ')})`, unknown);
  }

  has(name: string): boolean {
    return this.body[name] !== undefined;
  }

  string(name: string, required: true): string;
  string(name: string, required?: false): string | undefined;
  string(name: string, required = false): string | undefined {
    const value = this.body[name];
    if (value === undefined && !required) return undefined;
    if (typeof value !== 'string' || (required && value.trim() === '')) throw new BadRequest(`${name} must be a ${required ? 'non-empty ' : ''}string`, name);
    return value;
  }

  strings(name: string): string[] | undefined {
    const value = this.body[name];
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new BadRequest(`${name} must be an array of strings`, name);
    return value as string[];
  }

  boolean(name: string): boolean | undefined {
    const value = this.body[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'boolean') throw new BadRequest(`${name} must be true or false`, name);
    return value;
  }

  /** A whole number, or null when `nullable` (null: back to the default). */
  integer(name: string, nullable = false): number | null | undefined {
    const value = this.body[name];
    if (value === undefined) return undefined;
    if (value === null && nullable) return null;
    if (typeof value !== 'number' || !Number.isInteger(value)) throw new BadRequest(`${name} must be a whole number${nullable ? ' or null' : ''}`, name);
    return value;
  }

  raw(name: string): unknown {
    return this.body[name];
  }
}
