import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

// Structured JSON logs (pino). Paths that could ever carry a key are redacted at the logger, as a
// second line of defence: code never logs a key in the first place.
export function createLogger(component: string, level = process.env.KEYWARDEN_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { component },
    redact: {
      paths: ['key', 'apiKey', 'plaintext', 'authorization', 'headers.authorization', 'headers["x-api-key"]'],
      censor: '[redacted]',
    },
  });
}
