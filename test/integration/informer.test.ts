import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKubeConfig } from '../../src/kube/config.ts';
import { Informer, type KubeObject } from '../../src/kube/informer.ts';
import { KubeRest } from '../../src/kube/rest.ts';
import { LocalControlPlane } from '../../src/localcluster/cluster.ts';
import { eventually } from '../support/processes/keywarden-process.ts';

// A control plane of its own: this file stops and restarts the API server.
let plane: LocalControlPlane;
let rest: KubeRest;

const cm = (name: string, value: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name },
  data: { value },
});
const path = '/api/v1/namespaces/default/configmaps';

beforeAll(async () => {
  plane = await LocalControlPlane.start({ controllerManager: false, log: () => {} });
  rest = new KubeRest(loadKubeConfig(plane.kubeconfigPath));
});

afterAll(async () => {
  await plane?.stop();
});

describe('the informer', () => {
  it('keeps its cache while the API server is down, reports unhealthy, and catches up after it returns', async () => {
    await rest.create(path, cm('before', '1'));
    const errors: unknown[] = [];
    const informer = new Informer<KubeObject & { data?: Record<string, string> }>(rest, {
      resource: { group: '', version: 'v1', plural: 'configmaps' },
      namespace: 'default',
      silenceMs: 2_000,
      maxBackoffMs: 1_000,
      onError: (err) => errors.push(err),
    });
    informer.start();
    await informer.waitForSync(30_000);
    expect(informer.get('default/before')?.data?.value).toBe('1');
    expect(informer.healthy).toBe(true);

    await plane.stopProcess('kube-apiserver');
    await eventually(async () => (informer.healthy ? undefined : true), 40_000, 200);
    // Fail-static: the cache still answers.
    expect(informer.get('default/before')?.data?.value).toBe('1');
    expect(errors.length).toBeGreaterThan(0);

    await plane.restartProcess('kube-apiserver');
    await rest.create(path, cm('after', '2'));
    await rest.patch(`${path}/before`, { data: { value: '3' } }, 'merge');
    await eventually(
      async () => (informer.get('default/after')?.data?.value === '2' ? true : undefined),
      30_000,
      100,
    );
    await eventually(
      async () => (informer.get('default/before')?.data?.value === '3' ? true : undefined),
      30_000,
      100,
    );
    expect(informer.healthy).toBe(true);
    informer.stop();
  });

  it('sees deletions that happened while it was not watching (relist)', async () => {
    const informer = new Informer<KubeObject>(rest, {
      resource: { group: '', version: 'v1', plural: 'configmaps' },
      namespace: 'default',
      maxBackoffMs: 500,
    });
    const deleted: string[] = [];
    informer.on('delete', (o) => deleted.push(o.metadata.name));
    informer.start();
    await informer.waitForSync(30_000);
    await plane.stopProcess('kube-apiserver');
    await plane.restartProcess('kube-apiserver');
    await rest.delete(`${path}/after`);
    informer.relist();
    await eventually(async () => (deleted.includes('after') ? true : undefined), 30_000, 100);
    expect(informer.get('default/after')).toBeUndefined();
    informer.stop();
  });
});
