import type { WriteWatch } from './db-writes.ts';
import { RequestCounter } from './fuzz-run.ts';
import { describeRequest, injectOptions, type FuzzRequest } from './http-model.ts';
import { ignored, judge, type Answer } from './oracle.ts';
import { build, type Spec } from './specs.ts';
import type { World } from './world.ts';

/**
 * Sends one generated request in process (Fastify's inject) and checks everything about it: the
 * answer (oracle.ts), and, when the request was refused, that no table changed (db-writes.ts). Any
 * problem fails the property with the request and the answer.
 */
export class Harness {
  readonly counter = new RequestCounter();
  /** Answers by endpoint and status, to see what the run reached. */
  readonly statuses = new RequestCounter();

  readonly world: World;
  private readonly tables: WriteWatch;

  constructor(
    world: World,
    tables: WriteWatch,
  ) {
    this.world = world;
    this.tables = tables;
  }

  /** Builds the spec's request, sends it, checks the answer; throws with the details on any problem. */
  async check(spec: Spec, label?: string): Promise<void> {
    const request = await build(this.world, spec);
    await this.send(request, label ?? request.endpoint);
  }

  async send(request: FuzzRequest, label: string): Promise<void> {
    await this.tables.start();
    const logged = this.world.running.logs().length;
    const problems: string[] = [];
    let answer: Answer;
    try {
      const response = await this.world.app.inject(injectOptions(request));
      this.counter.add(label);
      this.statuses.add(`${label} ${response.statusCode}`);
      answer = { statusCode: response.statusCode, headers: response.headers, body: response.body };
      const verdict = judge(this.world, request, answer);
      problems.push(...verdict.problems);
      if (verdict.accepted) {
        this.world.spend(request.params.map((p) => p.value), rotatedRefreshToken(request, answer));
        this.world.registrationAccepted(request, answer.statusCode, answer.body);
      } else {
        const changes = await this.tables.changes({ devicePoll: verdict.devicePoll });
        const problem = `the refused request wrote to the database:\n    ${changes.join('\n    ')}`;
        if (changes.length > 0 && !ignored(problem)) problems.push(problem);
      }
    } finally {
      await this.tables.finish();
    }
    if (problems.length > 0) {
      // What the server logged meanwhile (errors only, at the fuzz run's log level): the cause of a 500.
      const log = this.world.running.logs().slice(logged).trim();
      throw new Error(
        `${problems.map((p) => `- ${p}`).join('\n')}\n\nrequest:\n${indent(describeRequest(request))}\n\nanswer:\n${indent(describeAnswer(answer!))}` +
          (log ? `\n\nserver log:\n${indent(log.slice(0, 3000))}` : ''),
      );
    }
  }
}

/**
 * The successor of a refresh token an accepted refresh request rotated. Not after a request with a
 * DPoP proof: a public client's successor is then bound to the proof's key (RFC 9449 §5), and the
 * requests without one would all be refused; the pool mints a new family instead.
 */
function rotatedRefreshToken(request: FuzzRequest, answer: Answer): string | undefined {
  if (!request.params.some((p) => p.name === 'grant_type' && p.value === 'refresh_token')) return undefined;
  if (request.params.some((p) => p.where === 'header' && p.name.toLowerCase() === 'dpop')) return undefined;
  try {
    const body = JSON.parse(answer.body) as { refresh_token?: unknown };
    return typeof body.refresh_token === 'string' ? body.refresh_token : undefined;
  } catch {
    return undefined;
  }
}

const indent = (text: string) => text.replace(/^/gm, '  ');

export function describeAnswer(answer: Answer): string {
  const lines = [`${answer.statusCode}`];
  for (const name of ['content-type', 'location', 'www-authenticate', 'allow', 'retry-after', 'cache-control', 'pragma', 'content-security-policy', 'x-frame-options', 'set-cookie']) {
    const value = answer.headers[name];
    if (value !== undefined) lines.push(`${name}: ${Array.isArray(value) ? value.join(' | ') : value}`);
  }
  const body = answer.body.length > 800 ? `${answer.body.slice(0, 800)}... (${answer.body.length} characters)` : answer.body;
  if (body !== '') lines.push('', body);
  return lines.join('\n');
}
