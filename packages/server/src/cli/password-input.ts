import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

/**
 * Reads a password: from a prompt that does not echo when stdin is a terminal, else the whole of stdin
 * (one trailing newline removed), so scripts can pipe it in. Never from an argument, where it would
 * land in the shell history and the process list.
 */
export async function readPassword(
  prompt: string,
  input: Readable & { isTTY?: boolean } = process.stdin,
  output: Writable = process.stderr,
): Promise<string> {
  if (!input.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of input) chunks.push(Buffer.from(chunk));
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  output.write(prompt);
  const rl = createInterface({ input, terminal: true });
  // Keep the typed characters off the screen.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {};
  try {
    return await new Promise<string>((resolve) => rl.question('', resolve));
  } finally {
    rl.close();
    output.write('\n');
  }
}
