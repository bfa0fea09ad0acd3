import { EventEmitter } from 'node:events';
import { Registry } from 'prom-client';
import type { Check, Component } from '../../../src/runtime/component.ts';

// Stand-in components for the runner's tests: each writes what happens to it into a shared journal.

export class FakeComponent implements Component {
  readonly name: string;
  readonly registry = new Registry();
  readonly #journal: string[];
  readiness: Check = { ok: true };
  healthiness: Check = { ok: true };
  failStart: Error | undefined;
  failStop: Error | undefined;

  constructor(name: string, journal: string[]) {
    this.name = name;
    this.#journal = journal;
  }

  async start(): Promise<void> {
    this.#journal.push(`start ${this.name}`);
    if (this.failStart) throw this.failStart;
  }

  async stop(): Promise<void> {
    this.#journal.push(`stop ${this.name}`);
    if (this.failStop) throw this.failStop;
  }

  health(): Check {
    return this.healthiness;
  }

  ready(): Check {
    return this.readiness;
  }
}

/** Signals the test sends by hand (the runner takes them from here instead of the process). */
export class FakeSignals extends EventEmitter {
  send(signal: NodeJS.Signals): void {
    this.emit(signal, signal);
  }
}
