/**
 * The notifications service. It "sends" a message to the user a token names (here: records it), so
 * the token's `sub` is the recipient. The orders service calls it with a token exchanged from the
 * user's (pattern 2, RFC 8693): `sub` is still the user, `scope` only `notifications:send`, and `act`
 * names the orders service acting for the user. That token is bound to the orders service's certificate
 * (RFC 8705 §3): the orders service calls the https listener that asks for client certificates.
 *
 * - `POST /notifications` (`notifications:send`): sends `{ subject, text }` to the token's `sub`.
 * - `GET /sent`: what was sent, for the demo's curious and its test. Not a real service's endpoint: it
 *   answers anyone who can reach it on loopback.
 */
import { createValidator } from '@latchkey/resource-server';
import { bearerAuth, requireScopes } from '@latchkey/resource-server/express';
import { NOTIFICATIONS_API } from '../config.ts';
import { boundTo, guard, HttpError, listen, readJson, sendJson, type EventLog, type MtlsListener, type RunningMtlsService } from './http.ts';

export interface SentNotification {
  id: string;
  /** The recipient: the token's `sub`. */
  to: string;
  /** The actors of the token, outermost first (RFC 8693 §4.1 `act`, nested). */
  actors: string[];
  /** The client the token was issued to. */
  clientId: string;
  scope: string[];
  subject: string;
  text: string;
  sentAt: string;
}

export interface NotificationsOptions {
  issuer: string;
  host: string;
  port: number;
  mtls: MtlsListener;
  log: EventLog;
}

export interface RunningNotifications extends RunningMtlsService {
  sent(): SentNotification[];
}

export async function startNotifications(options: NotificationsOptions): Promise<RunningNotifications> {
  const auth = bearerAuth(createValidator({ issuer: options.issuer, audience: NOTIFICATIONS_API }), { realm: 'notifications' });
  const sent: SentNotification[] = [];

  const service = await listen('notifications', options.host, options.port, async (req, res, path) => {
    if (path === '/notifications' && req.method === 'POST') {
      const claims = await guard(req, res, auth, requireScopes('notifications:send'));
      if (!claims) return;
      const { subject, text } = await readJson(req);
      if (typeof subject !== 'string' || typeof text !== 'string' || subject.length > 200 || text.length > 2000) {
        throw new HttpError(400, 'invalid_request', 'subject and text are required');
      }
      const notification: SentNotification = {
        id: `N${sent.length + 1}`,
        to: claims.sub,
        actors: actors(claims.payload.act),
        clientId: claims.client_id,
        scope: claims.scope,
        subject,
        text,
        sentAt: new Date().toISOString(),
      };
      sent.push(notification);
      const via = notification.actors.length > 0 ? `, ${notification.actors.join(' for ')} acting for the user` : '';
      options.log('notifications', `sent "${subject}" to sub ${claims.sub} (token scope: ${claims.scope.join(' ')}${via}${boundTo(claims)})`);
      return sendJson(res, 201, { notification });
    }
    if (path === '/sent' && req.method === 'GET') return sendJson(res, 200, { sent });
    throw new HttpError(404, 'not_found', 'no such endpoint');
  }, options.mtls);
  return { ...service, sent: () => sent.map((n) => ({ ...n })) };
}

/** RFC 8693 §4.1: `{"sub": "b", "act": {"sub": "a"}}`: b acts now, for a who acted before. */
function actors(act: unknown): string[] {
  const chain: string[] = [];
  for (let a = act; typeof a === 'object' && a !== null && chain.length < 10; a = (a as { act?: unknown }).act) {
    const sub = (a as { sub?: unknown }).sub;
    if (typeof sub === 'string') chain.push(sub);
  }
  return chain;
}
