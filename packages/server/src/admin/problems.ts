/**
 * RFC 9457 problem details: every error of the admin API is one of these, answered as
 * `application/problem+json` with `type`, `title`, `status` and `detail` (docs/admin-api.md).
 */

/** Where the problem types of this API are named (RFC 9457 §3.1.1: a URI identifying the type). */
const TYPE_BASE = 'urn:latchkey:admin:problem:';

export class AdminProblem extends Error {
  override readonly name = 'AdminProblem';
  readonly status: number;
  /** Short and the same for every occurrence of the type (RFC 9457 §3.1.3). */
  readonly title: string;
  /** The last part of `type`. */
  readonly code: string;
  /** Extension members (RFC 9457 §3.2): `field` for a bad field, `scope` for a missing scope. */
  readonly extensions: Record<string, unknown>;

  constructor(status: number, code: string, title: string, detail: string, extensions: Record<string, unknown> = {}) {
    super(detail);
    this.status = status;
    this.code = code;
    this.title = title;
    this.extensions = extensions;
  }

  get type(): string {
    return `${TYPE_BASE}${this.code}`;
  }

  /** RFC 9457 §3: the members of the problem details object. */
  toJSON(): Record<string, unknown> {
    return { type: this.type, title: this.title, status: this.status, detail: this.message, ...this.extensions };
  }
}

/** 400: the request is malformed (a parameter or body field of the wrong type, a bad cursor). `field` names it. */
export class BadRequest extends AdminProblem {
  constructor(detail: string, field?: string) {
    super(400, 'bad-request', 'Malformed request', detail, field === undefined ? {} : { field });
  }
}

/** 422: well formed, but a registry rule refuses it (RFC 9110 §15.5.21). */
export class Unprocessable extends AdminProblem {
  constructor(detail: string, field?: string) {
    super(422, 'invalid', 'The change breaks a rule', detail, field === undefined ? {} : { field });
  }
}

export class NotFound extends AdminProblem {
  constructor(detail: string) {
    super(404, 'not-found', 'Not found', detail);
  }
}

/** 409: it exists already, or conflicts with what exists. */
export class Conflict extends AdminProblem {
  constructor(detail: string) {
    super(409, 'conflict', 'Conflict', detail);
  }
}

/** RFC 6585 §3: 428, a change without `If-Match`. */
export class PreconditionRequired extends AdminProblem {
  constructor() {
    super(428, 'precondition-required', 'If-Match required', 'send If-Match with the ETag of the object you read: changes are made only to the version you saw');
  }
}

/** RFC 9110 §13.1.1, §15.5.13: 412, the object changed since it was read. */
export class PreconditionFailed extends AdminProblem {
  constructor() {
    super(412, 'precondition-failed', 'The object has changed', 'If-Match does not match the current ETag: read the object again and retry');
  }
}

/** RFC 6750 §3.1 invalid_token: 401, with a Bearer challenge. `error` is absent when no token came at all. */
export class Unauthenticated extends AdminProblem {
  readonly error: 'invalid_token' | null;

  constructor(detail: string, error: 'invalid_token' | null = 'invalid_token') {
    super(401, error === null ? 'unauthenticated' : 'invalid-token', 'Authentication required', detail);
    this.error = error;
  }
}

/** RFC 6750 §3.1 insufficient_scope: 403, naming the scope the request needs. */
export class InsufficientAdminScope extends AdminProblem {
  readonly scope: string;

  constructor(scope: string) {
    super(403, 'insufficient-scope', 'Insufficient scope', `this request needs the ${scope} scope`, { scope });
    this.scope = scope;
  }
}
