import { ADMIN_PORT_NAME, SIDECAR_NAME } from '../../injector/inject.ts';
import { ensureGoTool } from '../../localcluster/build-script.ts';
import { LocalControlPlane } from '../../localcluster/cluster.ts';
import { ensureNodeImages } from '../../localcluster/node/images.ts';
import type { DevBackend, Endpoint } from './backend.ts';
import { chartInstallArgs, DEMO_NS, demoApiManifests, list, OPERATOR_NS, RELEASE } from './demo.ts';
import { runOk } from './run.ts';
import { type DevCluster, devCluster, say, shown, step } from './session.ts';

interface PodJson {
  metadata: { name: string; deletionTimestamp?: string };
  status: { podIP?: string };
  spec: { containers: { name: string; ports?: { name?: string; containerPort: number }[] }[] };
}

/**
 * The node-backed mode, as users run keywarden: a control plane with a node (containerd, kubelet,
 * kube-proxy), our image built from the Dockerfile, the chart installed with helm, and the demo API
 * receiving the validator as an injected sidecar, reached from this machine through a NodePort.
 */
export class NodeBackend implements DevBackend {
  #cluster: DevCluster | undefined;
  #demoBase = '';

  async start(): Promise<DevCluster> {
    step("images without a registry: the pod sandbox, a Node base image, nginx and keywarden's own (cached)");
    const images = await ensureNodeImages();
    for (const i of images) say(`${i.role.padEnd(6)} ${i.ref}`);
    step('helm (built once from its Go module, cached)');
    const helm = await ensureGoTool('helm');
    step(
      'starting the control plane and a node: containerd, runc, CNI bridge, kubelet, kube-scheduler, kube-proxy',
    );
    const plane = await LocalControlPlane.start({
      node: { images: images.map((i) => i.archive) },
      log: (line) => say(line),
    });
    const cluster = devCluster(plane);
    this.#cluster = cluster;

    step('installing the chart with helm (our image, pullPolicy Never; webhook TLS bootstrapped by itself)');
    await cluster.kubectl.ok(['create', 'namespace', DEMO_NS]);
    const args = chartInstallArgs();
    process.stdout.write(`${shown('helm', args)}\n`);
    say('(helm --wait: until the controller and webhook pods are Ready; a minute or two)');
    process.stdout.write(await runOk(helm, args, { env: cluster.env }));
    await cluster.kubectl.show(['-n', OPERATOR_NS, 'get', 'pods', '-o', 'wide']);
    return cluster;
  }

  async startDemo(cluster: DevCluster, environment: string): Promise<string> {
    step(`the demo API: a Deployment annotated for injection; the webhook adds a ${environment} validator`);
    await cluster.kubectl.show(['-n', DEMO_NS, 'apply', '-f', '-'], list(demoApiManifests(environment)));
    await cluster.kubectl.show(['-n', DEMO_NS, 'rollout', 'status', 'deploy/demo-api', '--timeout=180s']);
    const [pod] = await this.#pods(DEMO_NS, 'app=demo-api');
    const containers = pod?.spec.containers.map((c) => c.name) ?? [];
    if (!containers.includes(SIDECAR_NAME))
      throw new Error(`the demo API pod has no ${SIDECAR_NAME} sidecar`);
    say(`pod ${pod?.metadata.name}: containers ${containers.join(', ')}`);
    const svc = await cluster.kubectl.json(['-n', DEMO_NS, 'get', 'svc', 'demo-api']);
    this.#demoBase = `http://${cluster.plane.nodeNetwork?.nodeIp}:${svc.spec.ports[0].nodePort}`;
    return this.#demoBase;
  }

  async endpoints(): Promise<Endpoint[]> {
    const metrics = async (ns: string, selector: string, portName: string) => {
      const urls = (await this.#pods(ns, selector)).map((p) => {
        const port = p.spec.containers.flatMap((c) => c.ports ?? []).find((x) => x.name === portName);
        return `http://${p.status.podIP}:${port?.containerPort}/metrics`;
      });
      return `${urls.join(' ')}  (also /healthz, /readyz)`;
    };
    const component = (c: string) => `app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/component=${c}`;
    return [
      ['kube-apiserver', this.#cluster?.plane.server ?? ''],
      ['demo API', `${this.#demoBase}  (NodePort; the injected validator answers first)`],
      ['validator metrics', await metrics(DEMO_NS, 'app=demo-api', ADMIN_PORT_NAME)],
      ['controller metrics', await metrics(OPERATOR_NS, component('controller'), 'health')],
      ['webhook metrics', await metrics(OPERATOR_NS, component('webhook'), 'health')],
    ];
  }

  async printLogs(): Promise<void> {
    const kubectl = this.#cluster?.kubectl;
    if (!kubectl) return;
    for (const ns of [OPERATOR_NS, DEMO_NS]) {
      const r = await kubectl.attempt(['-n', ns, 'get', 'pods,events', '-o', 'wide']);
      process.stderr.write(`\n--- kubectl -n ${ns} get pods,events ---\n${r.stdout}${r.stderr}`);
    }
  }

  async stop(): Promise<void> {
    await this.#cluster?.plane.stop();
  }

  async #pods(ns: string, selector: string): Promise<PodJson[]> {
    const pods = await (this.#cluster as DevCluster).kubectl.json(['-n', ns, 'get', 'pods', '-l', selector]);
    return (pods.items as PodJson[]).filter((p) => !p.metadata.deletionTimestamp);
  }
}
