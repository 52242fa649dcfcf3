import { BlockList, isIPv4 } from 'node:net';

/** Peers whose `Forwarded` and `X-Forwarded-*` headers are believed (load balancers, TLS terminators). */
export class TrustedProxies {
  private readonly list = new BlockList();
  private readonly empty: boolean;

  /** `entries`: addresses and CIDR ranges, already checked by the configuration parser. */
  constructor(entries: readonly string[]) {
    this.empty = entries.length === 0;
    for (const entry of entries) {
      const [address, bits] = entry.split('/') as [string, string | undefined];
      const type = isIPv4(address) ? 'ipv4' : 'ipv6';
      if (bits === undefined) this.list.addAddress(address, type);
      else this.list.addSubnet(address, Number(bits), type);
    }
  }

  has(address: string | undefined): boolean {
    if (this.empty || address === undefined) return false;
    // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return this.list.check(mapped[1]!, 'ipv4');
    return this.list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
  }
}

/** The peer address as it goes into X-Forwarded-For (IPv4-mapped IPv6 shown as IPv4). */
export function peerAddress(address: string | undefined): string {
  if (address === undefined) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}
