import { isNotFound } from './api-error';
import type { KubeClient } from './client';
import type { ResourceType } from './resources';

interface ApiResourceList {
  resources: { name: string; kind: string; namespaced: boolean }[];
}

/**
 * Finds the resource type of a kind in a group/version by asking the API server, as kubectl's
 * RESTMapper does: one request per group/version, remembered for the run. Undefined when the
 * group/version is not served (or has no such kind).
 */
export class Discovery {
  private readonly lists = new Map<string, Promise<ApiResourceList | undefined>>();

  constructor(private readonly client: KubeClient) {}

  private list(apiVersion: string) {
    let found = this.lists.get(apiVersion);
    if (!found) {
      const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      found = this.client.request<ApiResourceList>('GET', path).catch((err) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
      this.lists.set(apiVersion, found);
    }
    return found;
  }

  async resourceFor(apiVersion: string, kind: string): Promise<ResourceType | undefined> {
    const list = await this.list(apiVersion);
    const r = list?.resources.find((x) => x.kind === kind && !x.name.includes('/'));
    if (!r) return undefined;
    const [group, version] = apiVersion.includes('/') ? (apiVersion.split('/') as [string, string]) : ['', apiVersion];
    return { group, version, plural: r.name, kind, namespaced: r.namespaced };
  }
}
