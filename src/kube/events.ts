import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { KubeObject } from './informer.ts';
import { EVENTS } from './resources.ts';
import { type KubeRest, resourcePath } from './rest.ts';

// events.k8s.io/v1 Events about our objects. Notes are written by our code from fixed templates plus
// names and ids; a key string never goes in (a test scans every Event).

export interface EventSpec {
  type: 'Normal' | 'Warning';
  reason: string;
  action: string;
  note: string;
}

export class EventRecorder {
  readonly #rest: KubeRest;
  readonly #controller: string;
  readonly #instance: string;
  /** Told of an Event the API server refused (recording one is best effort). */
  readonly #onError: (err: unknown) => void;

  constructor(
    rest: KubeRest,
    controller: string,
    instance = process.env.POD_NAME ?? hostname(),
    onError: (err: unknown) => void = () => {},
  ) {
    this.#rest = rest;
    this.#controller = controller;
    this.#instance = instance;
    this.#onError = onError;
  }

  async record(regarding: KubeObject, e: EventSpec): Promise<void> {
    const ns = regarding.metadata.namespace ?? 'default';
    const now = new Date();
    const body = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      // Named as client-go names them: the object's name and a unique suffix.
      metadata: {
        name: `${regarding.metadata.name.slice(0, 200)}.${now.getTime().toString(16)}${randomBytes(2).toString('hex')}`,
        namespace: ns,
      },
      eventTime: now.toISOString().replace('Z', '000Z'),
      reportingController: this.#controller,
      reportingInstance: this.#instance.slice(0, 128),
      action: e.action,
      reason: e.reason,
      note: e.note.slice(0, 1024),
      type: e.type,
      regarding: {
        apiVersion: regarding.apiVersion,
        kind: regarding.kind,
        name: regarding.metadata.name,
        namespace: regarding.metadata.namespace,
        uid: regarding.metadata.uid,
        resourceVersion: regarding.metadata.resourceVersion,
      },
    };
    try {
      await this.#rest.create(resourcePath(EVENTS, ns), body);
    } catch (err) {
      this.#onError(err);
    }
  }
}
