/** The rate-limit bucket for requests that carry no client address (local runs, tests). */
export const UNKNOWN_CLIENT = "unknown";

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const IPV6 = /^[0-9a-f:]{2,39}$/i;

/** The first `count` groups of an IPv6 address, expanding `::`; undefined when it is not IPv6. */
function ipv6Prefix(address: string, count: number): string | undefined {
  if (!IPV6.test(address) || address.split("::").length > 2) return undefined;
  const [head = "", tail] = address.split("::");
  const headGroups = head ? head.split(":") : [];
  const tailGroups = tail ? tail.split(":") : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return undefined;
  const groups = [...headGroups, ...Array<string>(tail === undefined ? 0 : missing).fill("0"), ...tailGroups];
  if (groups.some((g) => g.length < 1 || g.length > 4)) return undefined;
  return groups
    .slice(0, count)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(":");
}

/**
 * Who a request comes from, for rate limits: the `CF-Connecting-IP` Cloudflare sets. An IPv6
 * client controls a whole /64, so it is one bucket. Anything unparseable shares one bucket.
 */
export function clientBucket(connectingIp: string | undefined): string {
  const ip = connectingIp?.trim();
  if (!ip || ip.length > 45) return UNKNOWN_CLIENT;
  const v4 = IPV4.exec(ip);
  if (v4)
    return v4.slice(1).every((o) => Number(o) <= 255) ? `ip4:${v4.slice(1).map(Number).join(".")}` : UNKNOWN_CLIENT;
  const v6 = ipv6Prefix(ip, 4);
  return v6 ? `ip6:${v6}::/64` : UNKNOWN_CLIENT;
}

/**
 * The network a client is in, for the sessions list: its /24 (IPv4) or /48 (IPv6). Enough for a
 * user to tell "home" from "abroad", not enough to locate them. Null when there is no usable address.
 */
export function clientNetwork(connectingIp: string | undefined): string | null {
  const ip = connectingIp?.trim();
  if (!ip || ip.length > 45) return null;
  const v4 = IPV4.exec(ip);
  if (v4) {
    const octets = v4.slice(1).map(Number);
    return octets.every((o) => o <= 255) ? `${octets.slice(0, 3).join(".")}.0/24` : null;
  }
  const v6 = ipv6Prefix(ip, 3);
  return v6 ? `${v6}::/48` : null;
}
