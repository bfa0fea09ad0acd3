// JSON schema of the configuration file as written (durations still strings). Every object refuses
// unknown fields, so a typo such as `rotues:` is an error with a line number instead of being ignored.
// Checks the schema cannot express (CIDRs, durations, permission syntax, path patterns) are in load.ts.

const duration = { type: 'string', minLength: 1, maxLength: 64 } as const;
const port = { type: 'integer', minimum: 0, maximum: 65535 } as const;
const nonEmpty = { type: 'string', minLength: 1 } as const;

const strict = <P extends Record<string, unknown>>(properties: P, required: string[] = []) => ({
  type: 'object',
  additionalProperties: false,
  properties,
  required,
});

export const CONFIG_SCHEMA = strict(
  {
    environment: { enum: ['production', 'staging', 'development'] },
    server: strict({
      host: nonEmpty,
      port,
      adminPort: port,
      internalPort: port,
      internalHost: nonEmpty,
      shutdownTimeout: duration,
    }),
    keyStore: strict({
      namespaces: { type: 'array', items: nonEmpty, uniqueItems: true },
      labelSelector: nonEmpty,
      recordKeys: {
        type: 'object',
        additionalProperties: false,
        properties: {
          configMap: strict({ namespace: nonEmpty, name: nonEmpty }, ['namespace', 'name']),
          file: nonEmpty,
        },
        minProperties: 1,
        maxProperties: 1,
      },
    }),
    trustedProxies: { type: 'array', items: nonEmpty, maxItems: 256 },
    routes: {
      type: 'array',
      maxItems: 10_000,
      items: strict(
        {
          path: nonEmpty,
          methods: {
            type: 'array',
            minItems: 1,
            items: { type: 'string', pattern: '^(?:[A-Za-z]+|\\*)$' },
          },
          permission: nonEmpty,
        },
        ['path', 'permission'],
      ),
    },
    unmappedRoutes: { enum: ['deny', 'allow'] },
    upstream: strict({ url: nonEmpty, timeout: duration }, ['url']),
    forwardAuth: strict({ enabled: { type: 'boolean' } }),
    verifyApi: strict({ enabled: { type: 'boolean' } }),
    identity: strict({
      jwt: strict(
        {
          issuer: nonEmpty,
          audience: nonEmpty,
          ttl: duration,
          algorithm: { enum: ['EdDSA', 'ES256'] },
          signingKey: {
            type: 'object',
            additionalProperties: false,
            properties: {
              secret: strict({ namespace: nonEmpty, name: nonEmpty, key: nonEmpty }, ['namespace', 'name']),
              file: nonEmpty,
            },
            minProperties: 1,
            maxProperties: 1,
          },
        },
        ['signingKey'],
      ),
    }),
    lastUsed: strict({ enabled: { type: 'boolean' }, interval: duration }),
    // The Parquet audit trail (docs/audit.md); values are checked again by parseAuditSettings.
    audit: strict(
      {
        directory: nonEmpty,
        compression: { enum: ['GZIP', 'SNAPPY', 'UNCOMPRESSED'] },
        flushInterval: duration,
        batchRows: { type: 'integer', minimum: 1, maximum: 1_000_000 },
        batchSize: nonEmpty,
        rotate: strict({ rows: { type: 'integer', minimum: 1 }, size: nonEmpty, age: duration }),
        buffer: strict({ events: { type: 'integer', minimum: 1 }, block: duration }),
        fsync: { type: 'boolean' },
        retention: strict({ maxAge: duration, maxSize: nonEmpty, interval: duration }),
      },
      ['directory'],
    ),
    metrics: strict({
      perKey: strict({
        enabled: { type: 'boolean' },
        maxKeys: { type: 'integer', minimum: 1, maximum: 10_000 },
      }),
    }),
  },
  ['environment'],
);
