import type { ErrorCode } from '../rules/index.ts';
import { RUN_EXIT } from '../runtime/runner.ts';

/** Exit codes scripts can rely on; 0 and 1 are the component runner's (a server part ends with them too). */
export const EXIT = {
  ok: RUN_EXIT.stopped,
  failure: RUN_EXIT.failed,
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
