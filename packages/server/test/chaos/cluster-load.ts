import type { RefreshChain } from './chains.ts';
import { NoAnswer, pick, Problems, type Creds, type Node, type Traffic } from './traffic.ts';

export interface ClusterLoadOptions {
  traffic: Traffic;
  problems: Problems;
  /** Every node of the cluster; killed ones (killedAt set) get no new requests, as behind a load balancer. */
  nodes: () => readonly Node[];
  /** Refresh chains, each rotated by a worker of its own, hopping to another node every time. */
  chains: readonly RefreshChain[];
  /** The client-credentials client of the service workers. */
  service: Creds;
  /** Service workers: token on one node, introspection on another, every fifth token revoked. */
  workers: number;
  maxRequests: number;
}

/** A node other than `avoid` when there is one. */
export function another(nodes: readonly Node[], avoid: Node | undefined): Node {
  const others = nodes.filter((n) => n !== avoid);
  return pick(others.length > 0 ? others : nodes);
}

/**
 * Traffic on every live node until stop(): what it sees wrong goes to `problems` (a 5xx or a live node's
 * silence is in the Traffic itself). Every check is cross-node: whatever one node acknowledged, another
 * must already know.
 */
export class ClusterLoad {
  rotations = 0;
  /** Rotations whose answer died with a killed node, retried with the same token on a survivor. */
  lostRotationsRetried = 0;
  tokens = 0;
  revocations = 0;
  /** Rotations in flight per node (the kill aims at one of them). */
  private readonly rotatingAt = new Map<Node, number>();
  private stopped = false;
  private readonly done: Promise<void>;

  private readonly o: ClusterLoadOptions;

  constructor(o: ClusterLoadOptions) {
    this.o = o;
    const workers = [
      ...o.chains.map((chain) => this.rotating(chain)),
      ...Array.from({ length: o.workers }, () => this.serving()),
    ];
    this.done = Promise.all(workers).then(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  /** How many refresh rotations `node` is handling right now. */
  rotationsInFlightAt(node: Node): number {
    return this.rotatingAt.get(node) ?? 0;
  }

  private get going(): boolean {
    return !this.stopped && this.o.traffic.sent < this.o.maxRequests;
  }

  private live(): Node[] {
    return this.o.nodes().filter((n) => n.killedAt === undefined);
  }

  /** A request that got no answer from a killed node is expected; anything else is a problem. */
  private tolerate(err: unknown, what: string): void {
    if (err instanceof NoAnswer) {
      // A live node's silence is already counted by the Traffic.
      return;
    }
    this.o.problems.add(`${what}: ${(err as Error).message}`);
  }

  private async rotating(chain: RefreshChain): Promise<void> {
    const { traffic, problems } = this.o;
    while (this.going) {
      const node = another(this.live(), chain.lastNode);
      this.rotatingAt.set(node, this.rotationsInFlightAt(node) + 1);
      try {
        const reply = await chain.refresh(traffic, node).finally(() => this.rotatingAt.set(node, this.rotationsInFlightAt(node) - 1));
        if (reply.status !== 200) {
          problems.add(`refresh chain broken at ${node.name} after ${chain.rotations} rotations: ${reply.status} ${reply.text}`);
          return;
        }
        this.rotations++;
      } catch (err) {
        if (!(err instanceof NoAnswer && err.expected)) {
          this.tolerate(err, `refresh at ${node.name}`);
          return;
        }
        // The node died with this rotation in flight: the holder never saw an answer, so it retries the
        // same token on a survivor. Committed or not, that must succeed (the grace window answers a
        // committed one with the same pair).
        const survivor = another(this.live(), node);
        try {
          const retry = await chain.refresh(traffic, survivor);
          if (retry.status !== 200) {
            problems.add(`a rotation lost with ${node.name} could not be retried at ${survivor.name}: ${retry.status} ${retry.text}`);
            return;
          }
          this.lostRotationsRetried++;
        } catch (retryErr) {
          this.tolerate(retryErr, `retry at ${survivor.name}`);
          return;
        }
      }
      const checker = another(this.live(), chain.lastNode);
      try {
        const seen = await traffic.post(checker, '/introspect', { token: chain.accessToken }, chain.client);
        if (seen.status !== 200 || seen.body?.active !== true) {
          problems.add(`an access token from ${chain.lastNode?.name}'s rotation is not active at ${checker.name}: ${seen.status} ${seen.text}`);
        }
      } catch (err) {
        this.tolerate(err, `introspection at ${checker.name}`);
      }
    }
  }

  private async serving(): Promise<void> {
    const { traffic, problems, service } = this.o;
    for (let n = 1; this.going; n++) {
      const issuer = pick(this.live());
      try {
        const issued = await traffic.post(issuer, '/token', { grant_type: 'client_credentials' }, service);
        if (issued.status !== 200) {
          problems.add(`client_credentials at ${issuer.name}: ${issued.status} ${issued.text}`);
          continue;
        }
        this.tokens++;
        const token = issued.body.access_token as string;
        if (n % 5 !== 0) {
          const checker = another(this.live(), issuer);
          const seen = await traffic.post(checker, '/introspect', { token }, service);
          if (seen.body?.active !== true) problems.add(`a token from ${issuer.name} is not active at ${checker.name}: ${seen.status} ${seen.text}`);
          continue;
        }
        const revoker = another(this.live(), issuer);
        const revoked = await traffic.post(revoker, '/revoke', { token }, service);
        if (revoked.status !== 200) {
          problems.add(`revocation at ${revoker.name}: ${revoked.status} ${revoked.text}`);
          continue;
        }
        this.revocations++;
        // Acknowledged at one node: every live node must refuse the token from now on.
        await Promise.all(
          this.live().map(async (node) => {
            try {
              const seen = await traffic.post(node, '/introspect', { token }, service);
              if (seen.text !== '{"active":false}') {
                problems.add(`a token revoked at ${revoker.name} is still accepted at ${node.name}: ${seen.status} ${seen.text}`);
              }
            } catch (err) {
              this.tolerate(err, `introspection at ${node.name}`);
            }
          }),
        );
      } catch (err) {
        this.tolerate(err, `service traffic at ${issuer.name}`);
      }
    }
  }
}
