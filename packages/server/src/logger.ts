import pino, { type Logger, type DestinationStream } from 'pino';

/**
 * Structured JSON logs. Requests are logged by method, path (never the query string) and status; the
 * headers that carry credentials are redacted, and bodies are never logged, so secrets, tokens and
 * passwords cannot reach the log.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'latchkey' },
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', 'client_secret', 'secret'],
        censor: '[redacted]',
      },
      serializers: {
        req: (req: { method?: string; url?: string; ip?: string; id?: string }) => ({
          method: req.method,
          path: req.url?.split('?')[0],
          remoteAddress: req.ip,
        }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      },
    },
    destination,
  );
}
