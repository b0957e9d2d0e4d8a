import { isIP } from 'node:net';

type Vars = Readonly<Record<string, string | undefined>>;

/** The first of these variables that is set and not empty (Go's getEnvAny: upper case first). */
const anyOf = (vars: Vars, ...names: string[]) => names.map((n) => vars[n]).find((v) => v);

/** A proxy given without a scheme is an HTTP proxy, as Go reads it. */
const withScheme = (proxy: string) => (/^[a-z][a-z0-9+.-]*:\/\//i.test(proxy) ? proxy : `http://${proxy}`);

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

/** An IPv4 address in a CIDR or equal to an address (IPv6 entries match only literally). */
function ipMatches(host: string, entry: string): boolean {
  const [base, bits] = entry.split('/');
  if (!base || !isIP(base)) return false;
  if (bits === undefined) return base === host;
  if (isIP(host) !== 4 || isIP(base) !== 4) return false;
  const n = Number(bits);
  const mask = n === 0 ? 0 : (~0 << (32 - n)) >>> 0;
  return (ipv4ToInt(host) & mask) >>> 0 === (ipv4ToInt(base) & mask) >>> 0;
}

/** One NO_PROXY entry against a host and port, as golang.org/x/net/http/httpproxy matches it. */
function noProxyMatches(entry: string, host: string, port: string): boolean {
  const e = entry.trim().toLowerCase();
  if (!e) return false;
  if (e === '*') return true;
  if (e.includes('/') || isIP(e)) return ipMatches(host, e);
  const m = /^(.*?)(?::(\d+))?$/.exec(e);
  const name = m?.[1] ?? e;
  if (m?.[2] && m[2] !== port) return false;
  if (isIP(name)) return name === host;
  if (name.startsWith('.')) return host.endsWith(name);
  const bare = name.replace(/^\*\./, '.');
  return bare.startsWith('.') ? host.endsWith(bare) : host === bare || host.endsWith(`.${bare}`);
}

/**
 * The proxy a request to the API server goes through, by one rule for everything kubectl vw
 * talks to the cluster with (its own client, and helm, which gets the same variables): the
 * kubeconfig's proxy-url when the cluster has one; else the environment's, as client-go (Go's
 * httpproxy) reads it: HTTPS_PROXY for an https server and HTTP_PROXY for an http one (either
 * case), never for localhost or a loopback address, and not for a host NO_PROXY names.
 */
export function proxyFor(server: string, kubeconfigProxy: string | undefined, vars: Vars): string | undefined {
  if (kubeconfigProxy) return kubeconfigProxy;
  const url = new URL(server);
  const proxy =
    url.protocol === 'https:' ? anyOf(vars, 'HTTPS_PROXY', 'https_proxy') : anyOf(vars, 'HTTP_PROXY', 'http_proxy');
  if (!proxy) return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'))) return undefined;
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const noProxy = anyOf(vars, 'NO_PROXY', 'no_proxy') ?? '';
  if (noProxy.split(',').some((e) => noProxyMatches(e, host, port))) return undefined;
  return withScheme(proxy);
}

/**
 * The proxy variables a child (helm) gets: the proxy this run resolved, and nothing else, so it
 * takes the very path kubectl vw's own requests take (a kubeconfig proxy-url is in the
 * kubeconfig it is given, which client-go prefers to any variable).
 */
export function proxyVarsFor(resolved: string | undefined, fromKubeconfig: boolean): Record<string, string> {
  if (!resolved || fromKubeconfig) return {};
  return { HTTPS_PROXY: resolved, HTTP_PROXY: resolved };
}
