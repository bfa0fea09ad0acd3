import parquetTypes from '@dsnp/parquetjs/dist/gen-nodejs/parquet_types.js';
import type { ParquetType, SchemaDefinition } from '@dsnp/parquetjs/dist/lib/declare.js';
import { ParquetSchema } from '@dsnp/parquetjs/dist/lib/schema.js';
import { decodeThrift, serializeThrift } from '@dsnp/parquetjs/dist/lib/util.js';
import { ParquetEnvelopeWriter } from '@dsnp/parquetjs/dist/lib/writer.js';
import type { Compression } from './encode.ts';
import { COLUMNS, type ColumnKind, SCHEMA_VERSION } from './schema.ts';

// The Parquet side of a file, through @dsnp/parquetjs: the schema, an envelope writer whose output
// we collect (the writer decides where the bytes go and when they are durable), and footers, both for
// a file being closed and for one rebuilt from its journal after a crash.

// Deep imports on purpose: the package's main module also loads its reader (and the AWS SDK it can
// read from S3), which a validator writing audit files has no use for.

const PARQUET_TYPE: Record<ColumnKind, ParquetType> = {
  timestamp: 'TIMESTAMP_MILLIS',
  string: 'UTF8',
  int32: 'INT32',
  double: 'DOUBLE',
};

export function schemaDefinition(compression: Compression): SchemaDefinition {
  const def: SchemaDefinition = {};
  for (const c of COLUMNS) {
    def[c.name] = {
      type: PARQUET_TYPE[c.kind],
      optional: c.optional,
      compression,
      ...(c.statistics ? {} : { statistics: false }),
    };
  }
  return def;
}

export function parquetSchema(compression: Compression): ParquetSchema {
  return new ParquetSchema(schemaDefinition(compression));
}

export function fileMetadata(source: string): Record<string, string> {
  return { 'keywarden.audit.schema_version': String(SCHEMA_VERSION), 'keywarden.audit.source': source };
}

/** An envelope writer whose bytes land in `chunks`, for the caller to write where it wants. */
export async function collectingEnvelope(
  schema: ParquetSchema,
): Promise<{ envelope: ParquetEnvelopeWriter; chunks: Buffer[] }> {
  const chunks: Buffer[] = [];
  const sink = {
    write(buf: Buffer, cb: (err?: Error | null) => void) {
      chunks.push(buf);
      cb(null);
      return true;
    },
    end(cb: (err?: Error | null) => void) {
      cb(null);
      return this;
    },
  };
  const envelope = await ParquetEnvelopeWriter.openStream(schema, sink as never, {
    pageIndex: false,
    useDataPageV2: false,
  });
  return { envelope, chunks };
}

export function serializeRowGroup(rowGroup: unknown): Buffer {
  return serializeThrift(rowGroup as never);
}

export function deserializeRowGroup(bytes: Buffer): parquetTypes.RowGroup {
  const rg = new parquetTypes.RowGroup();
  decodeThrift(rg as never, bytes);
  return rg;
}

/** The footer (metadata, length, magic) for a file holding these row groups, ending at `dataEnd`. */
export async function footerFor(
  compression: Compression,
  rowGroups: parquetTypes.RowGroup[],
  rows: number,
  dataEnd: number,
  metadata: Record<string, string>,
): Promise<Buffer> {
  const { envelope, chunks } = await collectingEnvelope(parquetSchema(compression));
  envelope.rowGroups = rowGroups as never;
  envelope.rowCount.setValue(rows);
  envelope.offset.setValue(dataEnd);
  envelope.writeFooter(metadata);
  return Buffer.concat(chunks);
}
