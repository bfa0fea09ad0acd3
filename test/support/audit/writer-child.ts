// A child process for the audit crash tests: writes decision events with known sequence numbers
// (request_id `r-<n>`) and reports progress on stdout, one line each:
//   written <n>          rows committed so far (sent every few milliseconds)
//   paused <n>           (mode pause) a batch's bytes are in the file but not committed; n committed
//   done <offered> <written> <dropped>   (after SIGTERM or the end) everything flushed and closed
//   recovered <files> <rows> <removed>   (mode recover) what recovery found
//
// node test/support/audit/writer-child.ts <dir> <mode: run|pause|recover> [pauseAfterBatches] [maxEvents]
import { createAuditSink } from '../../../src/audit/index.ts';

const [dir = '', mode = 'run', pauseArg = '3', maxArg = '0'] = process.argv.slice(2);
const pauseAfter = Number(pauseArg);
const maxEvents = Number(maxArg) || Number.POSITIVE_INFINITY;
const say = (line: string) => process.stdout.write(`${line}\n`);

let batches = 0;
let paused = false;
const sink = await createAuditSink({
  directory: dir,
  source: 'test/audit-writer',
  flushIntervalMs: 50,
  batchRows: 500,
  maxFileRowGroups: 8,
  bufferEvents: 20_000,
  fsync: false,
  beforeCommit:
    mode === 'pause'
      ? async () => {
          if (++batches <= pauseAfter) return;
          paused = true;
          say(`paused ${sink.stats.written}`);
          await new Promise(() => {}); // hold the write forever: the parent kills us here
        }
      : undefined,
});

if (mode === 'recover') {
  const r = sink.stats.recovered;
  await sink.close();
  say(`recovered ${r.files} ${r.rows} ${r.removed}`);
  process.exit(0);
}

// One hour's partition for everything (times stay inside the hour this run started in).
const base = Math.floor(Date.now() / 3_600_000) * 3_600_000;
let seq = 0;
let stopping = false;
const report = setInterval(() => {
  if (!paused) say(`written ${sink.stats.written}`);
}, 5);

process.once('SIGTERM', () => {
  stopping = true;
  void (async () => {
    await sink.close();
    clearInterval(report);
    const s = sink.stats;
    say(`done ${s.offered} ${s.written} ${s.dropped.buffer_full + s.dropped.write_error + s.dropped.closed}`);
    process.exit(0);
  })();
});

// About 40,000 events a second, in bursts of 200 per tick.
const produce = () => {
  if (stopping) return;
  for (let i = 0; i < 200 && seq < maxEvents; i++, seq++) {
    sink.record({
      timeMs: base + (seq % 3_000_000),
      door: 'authz',
      keyId: `k${String(seq % 97).padStart(11, '0')}`,
      environment: 'production',
      method: 'GET',
      path: `/v1/devices/${seq % 1000}`,
      status: seq % 10 === 0 ? 403 : 200,
      reason: seq % 10 === 0 ? 'permission_denied' : 'ok',
      clientIp: '10.1.2.3',
      latencyMs: 0.05,
      requestId: `r-${seq}`,
    });
  }
  setTimeout(produce, 5);
};
produce();
