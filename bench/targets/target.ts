import type { ServerProcess } from '../lib/processes.ts';

/** A server under test, started in its own process and seeded with one client-credentials client. */
export interface Target {
  name: string;
  issuer: string;
  tokenUrl: string;
  introspectionUrl: string;
  clientId: string;
  clientSecret: string;
  /** The form body of a client_credentials request for the benchmark audience and scope. */
  tokenForm: string;
  readonly pid: number;
  /** Spawn to ready, in milliseconds, of the running process. */
  readonly startupMs: number;
  /** Restarts the process on the same data; resolves to the new spawn-to-ready time. */
  restart(): Promise<number>;
  stop(): Promise<void>;
}

/** What describes a target besides its process. */
export type TargetFields = Omit<Target, 'pid' | 'startupMs' | 'restart' | 'stop'>;

/**
 * A target whose server runs in a process started by `launch`: pid, start-up time and restart follow
 * the current process; `cleanup` runs after the last stop.
 */
export async function processTarget(
  fields: TargetFields,
  launch: () => Promise<ServerProcess>,
  cleanup: () => void = () => {},
): Promise<Target> {
  let server = await launch();
  return {
    ...fields,
    get pid() {
      return server.child.pid!;
    },
    get startupMs() {
      return server.startupMs;
    },
    async restart() {
      await server.stop();
      server = await launch();
      return server.startupMs;
    },
    async stop() {
      await server.stop();
      cleanup();
    },
  };
}
