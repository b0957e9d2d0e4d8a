import net from 'node:net';

// Another cluster, as far as a run can tell: an address its kubeconfig's second context, or a
// HELM_KUBEAPISERVER in its environment, names. Nothing of a run's may ever reach it: every
// connection it accepts is on its record (and closed at once).

export interface Decoy {
  url: string;
  /** When each connection came. */
  readonly connections: number[];
  stop(): Promise<void>;
}

export async function startDecoy(): Promise<Decoy> {
  const connections: number[] = [];
  const server = net.createServer((socket) => {
    connections.push(Date.now());
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    connections,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
