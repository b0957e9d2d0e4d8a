import http from 'node:http';
import net, { type AddressInfo } from 'node:net';

// An HTTP CONNECT proxy, as HTTPS_PROXY names one: it tunnels each connection to the host asked
// for, through a table of its own (a name nothing else can resolve leads here only), and logs
// every tunnel it opened.

export interface ConnectProxy {
  url: string;
  /** Every CONNECT seen, as "host:port". */
  tunnels: string[];
  stop(): Promise<void>;
}

export async function startConnectProxy(hosts: Record<string, string>): Promise<ConnectProxy> {
  const tunnels: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((_req, res) => {
    res.writeHead(405).end('CONNECT only');
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const [host = '', port = '443'] = (req.url ?? '').split(':');
    tunnels.push(`${host}:${port}`);
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    const upstream = net.connect(Number(port), hosts[host] ?? host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
