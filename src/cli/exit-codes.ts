import type { ErrorCode } from '../rules/index.ts';

/** Exit codes scripts can rely on. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  alreadyRevealed: 4,
} as const;

/** The exit code each error code (rules/errors.ts) ends a command with. */
export const EXIT_OF: Record<ErrorCode, number> = {
  usage: EXIT.usage,
  failure: EXIT.failure,
  not_found: EXIT.notFound,
  still_minting: EXIT.failure,
  sealed: EXIT.notFound,
  already_revealed: EXIT.alreadyRevealed,
  no_answer: EXIT.failure,
};
