import type { KubeClient } from '../../lib/kube/client';
import { pauseAnnotation, pausedByAnnotation, resources } from '../../lib/operator/names';
import { adminKubeconfig, createTestNamespace, deleteNamespace, kubectlOk } from '../support/kube-env';
import { adminClient, createApps, vw } from '../helpers/plugins';

// kubectl vw's markers (paused-at, suspended-at) say what it did, so resume undoes exactly that.
// A marker left behind on something no longer paused (or paused again by hand) must never make
// resume undo a person's own pause.

describe("kubectl vw's markers", () => {
  let kubeconfig: string;
  let client: KubeClient;
  let ns: string;

  beforeAll(async () => {
    kubeconfig = adminKubeconfig();
    client = adminClient(kubeconfig);
    ns = await createTestNamespace('markers');
    await createApps(client, ns, [{ name: 'web' }, { name: 'db' }]);
  });

  afterAll(async () => {
    await deleteNamespace(ns, { wait: true });
  });

  const annotations = async (name: string) =>
    (await client.get(resources.applicationInstances, name, ns)).metadata.annotations ?? {};

  it("a pause undone and done again by hand is the person's: resume leaves it, and clears the stale marker", async () => {
    expect((await vw(['pause', '-n', ns, 'web', '--no-wait'], { kubeconfig })).exitCode).toBe(0);
    expect((await annotations('web'))[pausedByAnnotation]).toBeTruthy();
    // By hand: resumed, then paused again, with kubectl alone. kubectl vw's marker stays behind.
    await kubectlOk(['annotate', 'applicationinstance', '-n', ns, 'web', `${pauseAnnotation}-`]);
    await kubectlOk(['annotate', 'applicationinstance', '-n', ns, 'web', `${pauseAnnotation}=disabled`]);
    const r = await vw(['resume', '-n', ns, 'web', '--no-wait', '-o', 'json'], { kubeconfig });
    expect(r.exitCode).toBe(0);
    const after = await annotations('web');
    expect(after[pauseAnnotation]).toBe('disabled'); // the person's pause stands
    expect(after[pausedByAnnotation]).toBeUndefined(); // the stale marker is gone
    const row = JSON.parse(r.stdout).items.find((i: { name: string }) => i.name === 'web');
    expect(row.action).toBe('forget');
  });

  it('a marker on an instance no longer paused is cleared', async () => {
    expect((await vw(['pause', '-n', ns, 'db', '--no-wait'], { kubeconfig })).exitCode).toBe(0);
    await kubectlOk(['annotate', 'applicationinstance', '-n', ns, 'db', `${pauseAnnotation}-`]);
    const r = await vw(['resume', '-n', ns, 'db', '--no-wait'], { kubeconfig });
    expect(r.exitCode).toBe(0);
    expect((await annotations('db'))[pausedByAnnotation]).toBeUndefined();
    // A later pause by hand is then never undone by resume.
    await kubectlOk(['annotate', 'applicationinstance', '-n', ns, 'db', `${pauseAnnotation}=disabled`]);
    expect((await vw(['resume', '-n', ns, 'db', '--no-wait'], { kubeconfig })).exitCode).toBe(0);
    expect((await annotations('db'))[pauseAnnotation]).toBe('disabled');
  });

  it('what kubectl vw paused itself, resume resumes', async () => {
    expect((await vw(['pause', '-n', ns, 'web', 'db', '--no-wait'], { kubeconfig })).exitCode).toBe(0);
    // web and db are paused by hand already: pause leaves them (and marks nothing).
    expect((await annotations('web'))[pausedByAnnotation]).toBeUndefined();
    await kubectlOk(['annotate', 'applicationinstance', '-n', ns, 'web', `${pauseAnnotation}-`]);
    expect((await vw(['pause', '-n', ns, 'web', '--no-wait'], { kubeconfig })).exitCode).toBe(0);
    expect((await vw(['resume', '-n', ns, 'web', '--no-wait'], { kubeconfig })).exitCode).toBe(0);
    expect((await annotations('web'))[pauseAnnotation]).toBeUndefined();
  });
});
