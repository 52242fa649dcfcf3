import { connect, type Socket } from 'node:net';

/** What a raw connection saw: everything the server wrote, and when (ms after connecting) it closed. */
export interface RawOutcome {
  response: string;
  closedAfterMs: number;
  /** The status code of the first response, if any arrived. */
  status: number | undefined;
  /** The JSON body of the first response, if it had one. */
  body: any;
}

/**
 * Opens a TCP connection to `port` on 127.0.0.1 and writes `chunks` one after another, `gapMs` apart
 * (a slow client; a function gives the gap after each chunk), then waits, without ever closing its
 * side, until the server closes the connection or `giveUpMs` passes (then `closedAfterMs` is Infinity).
 */
export function rawExchange(
  port: number,
  chunks: (string | Buffer)[],
  gapMs: number | ((index: number) => number),
  giveUpMs = 30_000,
): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket: Socket = connect(port, '127.0.0.1');
    let response = '';
    let timer: NodeJS.Timeout | undefined;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (response += d));
    socket.on('error', () => {});
    const finish = (closedAfterMs: number) => {
      clearTimeout(timer);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ response, closedAfterMs, ...parseResponse(response) });
    };
    socket.on('close', () => finish(Date.now() - started));
    const giveUp = setTimeout(() => finish(Number.POSITIVE_INFINITY), giveUpMs);
    let next = 0;
    const send = () => {
      if (next >= chunks.length || socket.destroyed) return;
      socket.write(chunks[next]!);
      timer = setTimeout(send, typeof gapMs === 'number' ? gapMs : gapMs(next));
      next++;
    };
    socket.once('connect', send);
  });
}

function parseResponse(text: string): { status: number | undefined; body: any } {
  const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
  const split = text.indexOf('\r\n\r\n');
  let body: any;
  if (split >= 0) {
    try {
      body = JSON.parse(text.slice(split + 4));
    } catch {
      body = undefined;
    }
  }
  return { status: status === undefined ? undefined : Number(status), body };
}

/** A request head, ending with the blank line. */
export function head(method: string, path: string, headers: Record<string, string>): string {
  return `${method} ${path} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

/** `text` one character at a time. */
export function dribble(text: string): string[] {
  return [...text];
}
