// API requests per object, counted (never guessed) by a request-logging proxy in front of the
// API server: each command runs through it on a world of 1,000 applications, so one request per
// object where a list would do shows up as a figure near 1 (or 2, or 3) instead of near 0.
import type { KubeClient } from '../../lib/kube/client';
import { resources } from '../../lib/operator/names';
import type { FaultProxy } from '../support/fault-proxy';
import { log, round, seedInstances, vwTimed } from './measure';

export interface Counted {
  requests: number;
  objects: number;
  perObject: number;
  /** Requests by method and the kind of path: "GET applicationinstances", "PATCH applicationinstances/name"... */
  byKind: Record<string, number>;
}

/** "LIST applicationinstances", "GET applicationinstances/x", "PATCH leases/x", "WATCH operations". */
function kindOf(method: string, path: string, query: string) {
  const parts = path.split('/').filter(Boolean);
  const nsAt = parts.indexOf('namespaces');
  const rest = nsAt >= 0 && parts.length > nsAt + 2 ? parts.slice(nsAt + 2) : parts.slice(parts[0] === 'api' ? 2 : 3);
  const [plural, name] = rest;
  const verb = method === 'GET' ? (query.includes('watch=') ? 'WATCH' : name ? 'GET' : 'LIST') : method;
  return `${verb} ${plural ?? path}${name && verb !== 'GET' ? '/name' : ''}`;
}

/** What the proxy saw since it was last cleared, per object. */
export function countRequests(proxy: FaultProxy, objects: number): Counted {
  const byKind: Record<string, number> = {};
  for (const r of proxy.requests) {
    const k = kindOf(r.method, r.path, r.query);
    byKind[k] = (byKind[k] ?? 0) + 1;
  }
  const requests = proxy.requests.length;
  return { requests, objects, perObject: round(requests / objects, 3), byKind };
}

/** Each command through the proxy; backup's figure comes from its timed run (backup.ts). */
export async function requestsBench(proxy: FaultProxy, client: KubeClient, count: number) {
  const env = { KUBECONFIG: proxy.kubeconfig, NO_COLOR: '1' };
  await seedInstances(client, { set: 'requests', count, namespaces: ['bench-requests'] });
  const counted = async (args: string[], objects: number, ok = [0]): Promise<Counted> => {
    proxy.clearRequests();
    await vwTimed(args, env, { ok });
    const c = countRequests(proxy, objects);
    log(`${args.slice(0, 2).join(' ')}: ${c.requests} requests for ${objects} objects`);
    return c;
  };
  const scope = ['-n', 'bench-requests', '--all', '--no-wait'];
  const pause = await counted(['pause', ...scope], count);
  const resume = await counted(['resume', ...scope], count);
  const all = (await client.list(resources.applicationInstances)).items.length;
  // Both refuse here (apps unpaused, no operator Deployment): they read all they judge by first.
  const decommissionPreflight = await counted(['decommission', '--dry-run=client'], all, [0, 3]);
  const purgePlan = await counted(['purge', '--dry-run=client', '--delete-apps'], all, [0, 3]);
  return { pause, resume, decommissionPreflight, purgePlan };
}
