import { promisify } from 'node:util';
import zlib from 'node:zlib';

// Page compression for the audit writer. GZIP runs on libuv's thread pool, so a batch does not hold up
// the event loop; SNAPPY is loaded only by writers configured for it.

export type Compression = 'GZIP' | 'SNAPPY' | 'UNCOMPRESSED';

const gzip = promisify(zlib.gzip);
/** Level 1: files a few percent larger than level 6 on audit data (2.5 vs 2.4 MiB in the bench), for much less CPU. */
const GZIP_OPTIONS = { level: 1 };
/** Pages this small are compressed at once: the thread pool round trip would cost more than the work. */
const SYNC_COMPRESS_BELOW = 16 * 1024;

let snappy: ((b: Buffer) => Promise<Buffer>) | undefined;

export async function compress(method: Compression, body: Buffer): Promise<Buffer> {
  if (method === 'UNCOMPRESSED') return body;
  if (method === 'GZIP') {
    // zlib's output buffer is sized to what audit pages compress to (about a tenth): the default 16 KiB
    // per call, kept alive by its stream until a full GC, was most of the writer's garbage.
    const options = {
      level: GZIP_OPTIONS.level,
      chunkSize: Math.min(Math.max(body.length >> 3, 256), 64 * 1024),
    };
    return body.length < SYNC_COMPRESS_BELOW ? zlib.gzipSync(body, options) : gzip(body, options);
  }
  // SNAPPY: @dsnp/parquetjs's codec (snappyjs), loaded only by writers configured for it.
  if (!snappy) {
    const { deflate } = await import('@dsnp/parquetjs/dist/lib/compression.js');
    snappy = (b) => deflate('SNAPPY', b);
  }
  return snappy(body);
}
