import { deadLocalHolder, holderIdentity, type LockIdentity } from '../../lib/kube/lease';
import { proxyFor } from '../../lib/kube/proxy';

// The lock's decision to take a holder over at once, and the proxy rule every request follows:
// pure functions, judged here case by case.

describe('the lock holder identity', () => {
  const me = (over: Partial<LockIdentity> = {}, alive = false): LockIdentity => ({
    hostname: 'host-a',
    pid: 10,
    machine: () => ({ bootId: 'boot-1', pidNamespace: '4026531836' }),
    processAlive: () => alive,
    ...over,
  });

  it('names the host, pid, boot id and PID namespace', () => {
    expect(holderIdentity(me(), 'PauseResult')).toMatch(/^host-a\/10\/[0-9a-f]{8}\/PauseResult\/boot-1\/4026531836$/);
    expect(holderIdentity(me({ machine: () => undefined }), 'PauseResult')).toMatch(
      /^host-a\/10\/[0-9a-f]{8}\/PauseResult$/,
    );
  });

  it('takes over at once only a holder of this host, boot and PID namespace whose process is gone', () => {
    const dead = 'host-a/77/abcd1234/PurgeResult/boot-1/4026531836';
    expect(deadLocalHolder(dead, me())).toBe(true);
    expect(deadLocalHolder(dead, me({}, true))).toBe(false); // alive
    expect(deadLocalHolder('host-a/77/abcd1234/PurgeResult/boot-1/4026532175', me())).toBe(false); // another PID namespace
    expect(deadLocalHolder('host-a/77/abcd1234/PurgeResult/boot-2/4026531836', me())).toBe(false); // another boot (machine)
    expect(deadLocalHolder('host-b/77/abcd1234/PurgeResult/boot-1/4026531836', me())).toBe(false); // another host
    expect(deadLocalHolder('host-a/77/abcd1234/PurgeResult', me())).toBe(false); // an older run's: unknown
    expect(deadLocalHolder(dead, me({ machine: () => undefined }))).toBe(false); // we cannot tell
    expect(deadLocalHolder('host-a/10/abcd1234/PurgeResult/boot-1/4026531836', me())).toBe(false); // our own pid
  });
});

describe('the proxy rule (client-go, Go httpproxy)', () => {
  const server = 'https://api.example.com:6443';
  it('prefers the kubeconfig proxy-url', () => {
    expect(proxyFor(server, 'socks5://p:1080', { HTTPS_PROXY: 'http://e:3128' })).toBe('socks5://p:1080');
  });
  it('takes HTTPS_PROXY for https, HTTP_PROXY for http, upper case first, scheme defaulting to http', () => {
    expect(proxyFor(server, undefined, { HTTPS_PROXY: 'http://e:3128', https_proxy: 'http://l:1' })).toBe(
      'http://e:3128',
    );
    expect(proxyFor(server, undefined, { https_proxy: 'l:1' })).toBe('http://l:1');
    expect(proxyFor(server, undefined, { HTTP_PROXY: 'http://e:3128' })).toBeUndefined();
    expect(proxyFor('http://api.example.com', undefined, { HTTP_PROXY: 'http://e:3128' })).toBe('http://e:3128');
    expect(proxyFor(server, undefined, {})).toBeUndefined();
  });
  it('never proxies localhost or loopback', () => {
    const vars = { HTTPS_PROXY: 'http://e:3128' };
    expect(proxyFor('https://localhost:6443', undefined, vars)).toBeUndefined();
    expect(proxyFor('https://127.0.0.1:6443', undefined, vars)).toBeUndefined();
    expect(proxyFor('https://[::1]:6443', undefined, vars)).toBeUndefined();
  });
  it('honours NO_PROXY: names and their subdomains, leading dots, ports, IPs and CIDRs, and *', () => {
    const p = (no: string, to = server) => proxyFor(to, undefined, { HTTPS_PROXY: 'http://e:3128', NO_PROXY: no });
    expect(p('example.com')).toBeUndefined();
    expect(p('.example.com')).toBeUndefined();
    expect(p('.api.example.com')).toBe('http://e:3128'); // a leading dot: subdomains only
    expect(p('api.example.com:6443')).toBeUndefined();
    expect(p('api.example.com:443')).toBe('http://e:3128');
    expect(p('other.com, example.org')).toBe('http://e:3128');
    expect(p('*')).toBeUndefined();
    expect(p('10.0.0.0/8', 'https://10.1.2.3:6443')).toBeUndefined();
    expect(p('10.0.0.0/8', 'https://11.1.2.3:6443')).toBe('http://e:3128');
    expect(p('10.1.2.3', 'https://10.1.2.3:6443')).toBeUndefined();
    expect(proxyFor(server, undefined, { HTTPS_PROXY: 'http://e:3128', no_proxy: 'example.com' })).toBeUndefined();
  });
});
