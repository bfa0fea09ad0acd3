import type { Server } from 'node:http';
import type { Logger } from '../observability/logger.ts';
import { startAdminServer } from './admin-server.ts';
import { type Check, type Component, OK } from './component.ts';
import { closeServer, listeningPort } from './listen.ts';

// The one owner of what every keywarden process does around its components (controller-runtime's
// Manager): the admin server (/healthz, /readyz, /metrics), SIGTERM/SIGINT, stopping in reverse
// order of starting, and the exit code. Components start in the order given; a component that fails
// to start stops the ones already started.

/** The process exit codes a run ends with (the CLI's EXIT.ok and EXIT.failure). */
export const RUN_EXIT = { stopped: 0, failed: 1 } as const;

/** The Prometheus text format, as prom-client names it. */
const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

export interface RunnerOptions {
  /** The process, as its last log line names it ("validator stopped"). */
  name: string;
  components: Component[];
  log: Logger;
  /** Where to serve /healthz, /readyz and /metrics; no admin server without it. */
  admin?: { port: number; host?: string };
  /** Where signals come from (the process; a stand-in in tests). */
  signals?: Pick<NodeJS.Process, 'once' | 'off'>;
}

export class Runner {
  readonly #components: Component[];
  readonly #log: Logger;
  readonly #opts: RunnerOptions;
  readonly #started: Component[] = [];
  #admin: Server | undefined;
  #stopping = false;
  #finish: (code: number) => void = () => {};
  readonly #finished = new Promise<number>((resolve) => (this.#finish = resolve));
  readonly #onSignal = (signal: NodeJS.Signals) => void this.stop(`received ${signal}`, RUN_EXIT.stopped);

  constructor(opts: RunnerOptions) {
    this.#opts = opts;
    this.#components = opts.components;
    this.#log = opts.log;
  }

  get adminPort(): number {
    return listeningPort(this.#admin);
  }

  /** Every component's health; the reasons of those that fail, joined. */
  health(): Check {
    return combine(this.#components.map((c) => c.health()));
  }

  /** Ready when every component is and no stop has begun. */
  ready(): Check {
    if (this.#stopping) return { ok: false, reason: 'shutting down' };
    return combine(this.#components.map((c) => c.ready()));
  }

  /** Every component's registry, one after the other, in one exposition. */
  async metrics(): Promise<{ contentType: string; body: string }> {
    const registries = this.#components.flatMap((c) => (c.registry ? [c.registry] : []));
    const texts = await Promise.all(registries.map((r) => r.metrics()));
    return { contentType: registries[0]?.contentType ?? PROMETHEUS_TEXT, body: texts.join('') };
  }

  /**
   * Starts everything, calls onStarted, and resolves with the exit code once a signal (0), a failed
   * start or a component's fail() (1) has stopped every component.
   */
  async run(onStarted?: () => void): Promise<number> {
    const signals = this.#opts.signals ?? process;
    for (const s of SIGNALS) signals.once(s, this.#onSignal);
    try {
      await this.#start();
      if (!this.#stopping) onStarted?.();
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, 'could not start');
      await this.stop('a component failed to start', RUN_EXIT.failed);
    }
    const code = await this.#finished;
    for (const s of SIGNALS) signals.off(s, this.#onSignal);
    return code;
  }

  /** For a component that can no longer go on (e.g. a lost leader Lease): stop everything, exit 1. */
  fail(reason: string): void {
    void this.stop(reason, RUN_EXIT.failed);
  }

  /** Not ready at once, then each started component stopped in reverse order, then the admin server. */
  async stop(reason: string, code: number = RUN_EXIT.stopped): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#log.info({ reason }, 'shutting down');
    let exit = code;
    for (const c of this.#started.splice(0).reverse()) {
      try {
        await c.stop();
      } catch (err) {
        this.#log.error({ component: c.name, err: (err as Error).message }, 'did not stop cleanly');
        exit = RUN_EXIT.failed;
      }
    }
    await closeServer(this.#admin);
    this.#log.info({ exitCode: exit }, `${this.#opts.name} stopped`);
    this.#finish(exit);
  }

  async #start(): Promise<void> {
    const admin = this.#opts.admin;
    if (admin) {
      this.#admin = await startAdminServer({
        port: admin.port,
        host: admin.host ?? '0.0.0.0',
        endpoints: this,
      });
      // A signal while it was opening: stop() has already run and would not close it.
      if (this.#stopping) await closeServer(this.#admin);
    }
    for (const c of this.#components) {
      if (this.#stopping) return;
      this.#started.push(c);
      await c.start();
    }
  }
}

function combine(checks: Check[]): Check {
  const reasons = checks.filter((c) => !c.ok).map((c) => c.reason ?? 'unknown');
  return reasons.length === 0 ? OK : { ok: false, reason: reasons.join('; ') };
}
