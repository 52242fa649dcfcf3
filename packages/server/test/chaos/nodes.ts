import { type ServeProcess, startServeProcess } from '@latchkey/testing';
import type { Node } from './traffic.ts';

/** A `latchkey serve` child process, as a node of the load. */
export interface LatchkeyNode extends Node {
  process: ServeProcess;
  env: Record<string, string | undefined>;
}

/** Starts `latchkey serve` with `env` (which sets PORT) and waits until /readyz answers 200. */
export async function startNode(name: string, env: Record<string, string | undefined>): Promise<LatchkeyNode> {
  const serve = await startServeProcess(env, { timeoutMs: 60_000 });
  return { name, url: serve.url, process: serve, env };
}

/** kill -9: no shutdown hook runs, connections and transactions in flight are cut. */
export async function killNode(node: LatchkeyNode): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const { child } = node.process;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  node.killedAt = Date.now();
  child.kill('SIGKILL');
  return exited;
}

/** Whether the process is still the one started (it neither exited nor was replaced). */
export function running(node: LatchkeyNode): boolean {
  return node.process.child.exitCode === null && node.process.child.signalCode === null;
}

/** The last `chars` characters of a node's log, for failure messages. */
export function logTail(node: LatchkeyNode, chars = 3000): string {
  const output = node.process.output();
  return output.length > chars ? `...${output.slice(-chars)}` : output;
}
