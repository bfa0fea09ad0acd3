import { expect } from 'vitest';
import { WebSocket } from 'ws';

// One websocket tunnel through a validator to an echo upstream, for the unit and adversarial tunnel tests.

export interface Tunnel {
  ws: WebSocket;
  /** When the tunnel closed (Date.now()). */
  closed: Promise<number>;
}

/** Opens `/v1/stream` with the key and proves the tunnel carries data end to end (the upstream echoes). */
export async function openTunnel(port: number, key: string): Promise<Tunnel> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/stream`, { headers: { 'x-api-key': key } });
  const closed = new Promise<number>((resolve) => ws.on('close', () => resolve(Date.now())));
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
  const echo = new Promise<string>((resolve) => ws.once('message', (m) => resolve(m.toString())));
  ws.send('ping');
  expect(await echo).toBe('echo ping');
  return { ws, closed };
}

/** Milliseconds from `from` until the tunnel closed, or Infinity when still open after `waitMs`. */
export const closedWithin = (t: Tunnel, from: number, waitMs: number): Promise<number> =>
  Promise.race([
    t.closed.then((at) => at - from),
    new Promise<number>((r) => setTimeout(() => r(Number.POSITIVE_INFINITY), waitMs)),
  ]);
