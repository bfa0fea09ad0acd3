import { useEffect, useState } from 'preact/hooks';
import type { ConsoleKey } from '../view.ts';

// The ApiKeys the user may list, kept current by the server's watch (Server-Sent Events): a key changed
// in kubectl changes here within a second, without a reload.

export const idOf = (k: { metadata: { namespace: string; name: string } }) =>
  `${k.metadata.namespace}/${k.metadata.name}`;

export function useKeys() {
  const [keys, setKeys] = useState<Map<string, ConsoleKey>>(new Map());
  const [problem, setProblem] = useState<string | undefined>();
  const [connected, setConnected] = useState(false);

  useEffect(() => {
    const source = new EventSource('/api/stream');
    source.onopen = () => setConnected(true);
    source.onerror = () => setConnected(false);
    source.addEventListener('snapshot', (e) => {
      const list = JSON.parse((e as MessageEvent).data) as ConsoleKey[];
      setKeys(new Map(list.map((k) => [idOf(k), k])));
      setConnected(true);
    });
    source.addEventListener('upsert', (e) => {
      const k = JSON.parse((e as MessageEvent).data) as ConsoleKey;
      setKeys((old) => new Map(old).set(idOf(k), k));
    });
    source.addEventListener('delete', (e) => {
      const { namespace, name } = JSON.parse((e as MessageEvent).data) as { namespace: string; name: string };
      setKeys((old) => {
        const next = new Map(old);
        next.delete(`${namespace}/${name}`);
        return next;
      });
    });
    source.addEventListener('problem', (e) => {
      const { message } = JSON.parse((e as MessageEvent).data) as { message: string | null };
      setProblem(message ?? undefined);
    });
    return () => source.close();
  }, []);

  return { keys, problem, connected };
}
