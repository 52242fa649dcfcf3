import { basicAuth } from '@latchkey/testing';

/** One latchkey node as the load sees it. */
export interface Node {
  name: string;
  url: string;
  /** When the suite killed it (Date.now()); connection errors from then on are expected. */
  killedAt?: number;
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  body: any;
  /** Milliseconds from sending to the whole answer. */
  ms: number;
}

/** The node never answered: refused or reset connection, or no answer within the request timeout. */
export class NoAnswer extends Error {
  readonly node: Node;
  readonly path: string;
  readonly kind: 'connection' | 'timeout';
  readonly at: number;

  constructor(
    node: Node,
    path: string,
    kind: 'connection' | 'timeout',
    at: number,
    cause: unknown,
  ) {
    super(`${node.name} ${path}: no answer (${kind}: ${causeOf(cause)})`, { cause });
    this.node = node;
    this.path = path;
    this.kind = kind;
    this.at = at;
  }

  /** Whether the node had been killed when the request failed: the one failure the suites expect. */
  get expected(): boolean {
    return this.node.killedAt !== undefined && this.at >= this.node.killedAt;
  }
}

function causeOf(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}

/** Longest a request may take before it counts as a hang (a node that is alive must answer). */
export const REQUEST_TIMEOUT_MS = 10_000;

export type Form = Record<string, string>;
export type Creds = { clientId: string; clientSecret: string };

/**
 * Every request the suites send goes through here: counted by status, 5xx answers and unexpected
 * silences kept (with the node's name and the body) so a failure shows what happened.
 */
export class Traffic {
  sent = 0;
  readonly byStatus = new Map<number, number>();
  /** 5xx answers (the first 50), with the node and what it said: the counts are in byStatus. */
  readonly serverErrors: string[] = [];
  /** Requests a live node did not answer. */
  readonly silences: string[] = [];
  /** Connection errors from a node after it was killed (expected; counted for the report). */
  expectedSilences = 0;
  private readonly inFlight = new Map<string, number>();

  inFlightAt(node: Node): number {
    return this.inFlight.get(node.name) ?? 0;
  }

  post(node: Node, path: string, form: Form, creds?: Creds): Promise<Reply> {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (creds) headers.authorization = basicAuth(creds.clientId, creds.clientSecret);
    return this.send(node, path, { method: 'POST', headers, body: new URLSearchParams(form).toString() });
  }

  get(node: Node, path: string): Promise<Reply> {
    return this.send(node, path, { method: 'GET' });
  }

  private async send(node: Node, path: string, init: RequestInit): Promise<Reply> {
    this.sent++;
    this.inFlight.set(node.name, this.inFlightAt(node) + 1);
    const started = Date.now();
    try {
      let res: Response;
      let text: string;
      try {
        res = await fetch(`${node.url}${path}`, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        text = await res.text();
      } catch (err) {
        const kind = (err as Error).name === 'TimeoutError' ? 'timeout' : 'connection';
        const failure = new NoAnswer(node, path, kind, Date.now(), err);
        if (failure.expected) this.expectedSilences++;
        else this.silences.push(failure.message);
        throw failure;
      }
      const reply: Reply = { status: res.status, headers: res.headers, text, body: parse(text), ms: Date.now() - started };
      this.byStatus.set(res.status, (this.byStatus.get(res.status) ?? 0) + 1);
      if (res.status >= 500 && this.serverErrors.length < 50) {
        this.serverErrors.push(`${node.name} ${init.method} ${path} -> ${res.status} after ${reply.ms} ms: ${text.slice(0, 200)}`);
      }
      return reply;
    } finally {
      this.inFlight.set(node.name, this.inFlightAt(node) - 1);
    }
  }

  /** One line for t.diagnostic: how many requests, and how they were answered. */
  summary(): string {
    const statuses = [...this.byStatus].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`);
    return `${this.sent} requests (${statuses.join(', ')}; no answer from a killed node: ${this.expectedSilences})`;
  }
}

function parse(text: string): any {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A random element of a non-empty list. */
export function pick<T>(items: readonly T[]): T {
  if (items.length === 0) throw new Error('nothing to pick from');
  return items[Math.floor(Math.random() * items.length)]!;
}

/** Problems the load found (wrong answers), kept short. */
export class Problems {
  readonly list: string[] = [];
  count = 0;
  add(problem: string): void {
    this.count++;
    if (this.list.length < 50) this.list.push(problem);
  }
}
