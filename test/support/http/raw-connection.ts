import { connect, type Socket } from 'node:net';

// One raw client connection kept open across requests: bytes are written exactly as given (pipelined
// requests, conflicting framing, a body that holds another request) and the answers are read back in
// order, so a test can see what happened on that one connection. Answers are framed by
// Content-Length or chunked encoding, as our servers send them.

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export class RawConnection {
  readonly #socket: Socket;
  #buffer = '';
  #closed = false;
  #waiting: (() => void) | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => {
      this.#buffer += c;
      this.#waiting?.();
    });
    // The server may close while we still write: the answers read so far are what counts.
    socket.on('error', () => {});
    socket.on('close', () => {
      this.#closed = true;
      this.#waiting?.();
    });
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => resolve(new RawConnection(s)));
      s.once('error', reject);
    });
  }

  /** True once the server closed the connection. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The local port: the address the server sees this connection as. */
  get localPort(): number {
    return this.#socket.localPort ?? 0;
  }

  write(bytes: string): void {
    this.#socket.write(bytes, 'latin1');
  }

  /** The next complete answer; undefined when the server closed the connection first. */
  async next(timeoutMs = 5_000): Promise<RawAnswer | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = takeAnswer(this.#buffer);
      if (parsed) {
        this.#buffer = this.#buffer.slice(parsed.length);
        return parsed.answer;
      }
      if (this.#closed) return undefined;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no complete answer within ${timeoutMs} ms: ${JSON.stringify(this.#buffer)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiting = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#waiting = undefined;
    }
  }

  /** Waits for the server to close the connection (throws if it stays open). */
  async waitClosed(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed) {
      if (Date.now() > deadline) throw new Error(`the connection stayed open for ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void {
    this.#socket.destroy();
  }
}

function takeAnswer(text: string): { answer: RawAnswer; length: number } | undefined {
  const split = text.indexOf('\r\n\r\n');
  if (split < 0) return undefined;
  const lines = text.slice(0, split).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const start = split + 4;
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
    let at = start;
    let body = '';
    for (;;) {
      const eol = text.indexOf('\r\n', at);
      if (eol < 0) return undefined;
      const size = Number.parseInt(text.slice(at, eol), 16);
      if (size === 0) {
        if (text.length < eol + 4) return undefined;
        return { answer: { status, headers, body }, length: eol + 4 };
      }
      if (text.length < eol + 2 + size + 2) return undefined;
      body += text.slice(eol + 2, eol + 2 + size);
      at = eol + 2 + size + 2;
    }
  }
  const len = Number(headers['content-length'] ?? 0);
  if (text.length < start + len) return undefined;
  return { answer: { status, headers, body: text.slice(start, start + len) }, length: start + len };
}
