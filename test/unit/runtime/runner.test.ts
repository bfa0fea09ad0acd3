import { Counter } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/observability/logger.ts';
import { RUN_EXIT, Runner } from '../../../src/runtime/runner.ts';
import { call } from '../../support/http/client.ts';
import { FakeComponent, FakeSignals } from './fakes.ts';

const log = createLogger('test', 'silent');

function setUp(names: string[]) {
  const journal: string[] = [];
  const components = names.map((n) => new FakeComponent(n, journal));
  const signals = new FakeSignals();
  const runner = new Runner({
    name: 'test',
    components,
    log,
    admin: { port: 0, host: '127.0.0.1' },
    signals: signals as unknown as NodeJS.Process,
  });
  return { journal, components, signals, runner };
}

/** Runs until onStarted, then hands back the promise of the exit code (wrapped: not awaited here). */
async function started(runner: Runner): Promise<{ exit: Promise<number> }> {
  let up: () => void = () => {};
  const isUp = new Promise<void>((resolve) => (up = resolve));
  const exit = runner.run(() => up());
  await Promise.race([isUp, exit]);
  return { exit };
}

describe('Runner', () => {
  it('starts in order; on SIGTERM it is not ready at once, stops in reverse order and exits 0', async () => {
    const { journal, components, signals, runner } = setUp(['store', 'server', 'reporter']);
    const { exit } = await started(runner);
    expect(journal).toEqual(['start store', 'start server', 'start reporter']);
    const port = runner.adminPort;
    expect((await call(port, { path: '/readyz' })).status).toBe(200);

    // While the first component to stop drains, the admin port says so.
    let during: { status: number; body: string } | undefined;
    const reporter = components[2] as FakeComponent;
    reporter.stop = async () => {
      journal.push('stop reporter');
      during = await call(port, { path: '/readyz' });
    };
    signals.send('SIGTERM');
    expect(await exit).toBe(RUN_EXIT.stopped);
    expect(journal.slice(3)).toEqual(['stop reporter', 'stop server', 'stop store']);
    expect(during).toMatchObject({ status: 503, body: 'not ok: shutting down\n' });
    expect(runner.adminPort).toBe(0);
    expect(signals.listenerCount('SIGTERM') + signals.listenerCount('SIGINT')).toBe(0);
  });

  it('a component whose start throws: exit 1, the ones started are stopped, the rest never start', async () => {
    const { journal, components, runner } = setUp(['a', 'b', 'c']);
    (components[1] as FakeComponent).failStart = new Error('port in use');
    let called = false;
    expect(await runner.run(() => (called = true))).toBe(RUN_EXIT.failed);
    expect(called).toBe(false);
    // b is stopped too: it may have taken something before it threw.
    expect(journal).toEqual(['start a', 'start b', 'stop b', 'stop a']);
    expect(runner.adminPort).toBe(0);
  });

  it('fail() from a component (a lost Lease): everything stops, exit 1', async () => {
    const { journal, runner } = setUp(['informers', 'workers']);
    const { exit } = await started(runner);
    runner.fail('lost the leader Lease');
    expect(await exit).toBe(RUN_EXIT.failed);
    expect(journal).toEqual(['start informers', 'start workers', 'stop workers', 'stop informers']);
  });

  it('a component that does not stop cleanly: the others are still stopped, exit 1', async () => {
    const { journal, components, signals, runner } = setUp(['a', 'b']);
    (components[1] as FakeComponent).failStop = new Error('flush failed');
    const { exit } = await started(runner);
    signals.send('SIGINT');
    expect(await exit).toBe(RUN_EXIT.failed);
    expect(journal).toEqual(['start a', 'start b', 'stop b', 'stop a']);
  });

  it('a second signal while stopping changes nothing', async () => {
    const { journal, signals, runner } = setUp(['a']);
    const { exit } = await started(runner);
    signals.send('SIGTERM');
    signals.send('SIGINT');
    expect(await exit).toBe(RUN_EXIT.stopped);
    expect(journal).toEqual(['start a', 'stop a']);
  });

  it('readiness and health: ok only when every component is, with every reason that is not', async () => {
    const { components, signals, runner } = setUp(['store', 'signing', 'server']);
    const [store, signing, server] = components as [FakeComponent, FakeComponent, FakeComponent];
    store.readiness = { ok: false, reason: 'key store not synced' };
    server.readiness = { ok: false };
    signing.healthiness = { ok: false, reason: 'a watch is dead' };
    const { exit } = await started(runner);
    const port = runner.adminPort;
    expect(await call(port, { path: '/readyz' })).toMatchObject({
      status: 503,
      body: 'not ok: key store not synced; unknown\n',
    });
    expect(await call(port, { path: '/healthz' })).toMatchObject({
      status: 503,
      body: 'not ok: a watch is dead\n',
    });
    store.readiness = { ok: true };
    server.readiness = { ok: true };
    signing.healthiness = { ok: true };
    expect(await call(port, { path: '/readyz' })).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await call(port, { path: '/healthz' })).toMatchObject({ status: 200, body: 'ok\n' });
    signals.send('SIGTERM');
    await exit;
  });

  it('/metrics serves every component registry in one exposition', async () => {
    const { components, signals, runner } = setUp(['validator', 'audit']);
    const [a, b] = components as [FakeComponent, FakeComponent];
    new Counter({ name: 'first_total', help: 'one', registers: [a.registry] }).inc(2);
    new Counter({ name: 'second_total', help: 'two', registers: [b.registry] }).inc(3);
    const { exit } = await started(runner);
    const r = await call(runner.adminPort, { path: '/metrics' });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe(a.registry.contentType);
    expect(r.body).toContain('first_total 2');
    expect(r.body).toContain('second_total 3');
    signals.send('SIGTERM');
    await exit;
  });

  it('without an admin port it serves nothing and still owns signals and the exit code', async () => {
    const journal: string[] = [];
    const signals = new FakeSignals();
    const runner = new Runner({
      name: 'test',
      components: [new FakeComponent('console', journal)],
      log,
      signals: signals as unknown as NodeJS.Process,
    });
    const { exit } = await started(runner);
    expect(runner.adminPort).toBe(0);
    signals.send('SIGINT');
    expect(await exit).toBe(RUN_EXIT.stopped);
    expect(journal).toEqual(['start console', 'stop console']);
  });

  it('an admin port already taken: exit 1 before any component starts', async () => {
    const first = setUp(['a']);
    const { exit } = await started(first.runner);
    const journal: string[] = [];
    const second = new Runner({
      name: 'test',
      components: [new FakeComponent('b', journal)],
      log,
      admin: { port: first.runner.adminPort, host: '127.0.0.1' },
      signals: new FakeSignals() as unknown as NodeJS.Process,
    });
    expect(await second.run()).toBe(RUN_EXIT.failed);
    expect(journal).toEqual([]);
    first.signals.send('SIGTERM');
    await exit;
  });
});
