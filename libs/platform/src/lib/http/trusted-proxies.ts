import { BlockList, isIP } from 'node:net';

/** `10.0.0.0/8`, `fd00::/8`, or one address (a /32 or /128). */
export interface ProxyRange {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** One `TRUSTED_PROXIES` entry as a range, or undefined when it is neither an address nor a CIDR. */
export function parseProxyRange(entry: string): ProxyRange | undefined {
  const [address = '', prefixText, extra] = entry.trim().split('/');
  const version = isIP(address);
  if (version === 0 || extra !== undefined) return undefined;
  const bits = version === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (prefix > bits) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/**
 * Which peers may tell the client's address in `X-Forwarded-For`: the ingress or load balancer in
 * front of the app, and nobody else — from anyone else the header is a forgery that would move a
 * client to another rate-limit bucket and put a false address in the logs. Empty: nobody.
 */
export class TrustedProxies {
  private readonly list = new BlockList();

  constructor(readonly ranges: readonly ProxyRange[] = []) {
    for (const range of ranges) this.list.addSubnet(range.address, range.prefix, range.family);
  }

  /** Fastify's `trustProxy` function: is the peer at `address` one of the proxies? */
  trusts(address: string | undefined): boolean {
    if (!address || this.ranges.length === 0) return false;
    // An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    if (mapped) return this.list.check(mapped, 'ipv4');
    const version = isIP(address);
    return version !== 0 && this.list.check(address, version === 4 ? 'ipv4' : 'ipv6');
  }
}
