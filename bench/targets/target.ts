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
