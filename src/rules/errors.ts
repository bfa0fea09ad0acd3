// One shape for an error a person or a tool acts on (jose style): one class with a stable `code` that
// tools branch on, never the message; a subclass per area. Each tool turns the code into its own answer:
// the CLI an exit code (cli/exit-codes.ts), the console an HTTP status.

export type ErrorCode =
  /** What was asked for is wrong: a flag, a missing option, a configuration with problems. */
  | 'usage'
  /** Could not be done; the message says why. */
  | 'failure'
  /** The object named does not exist. */
  | 'not_found'
  /** Reveal: the key is not minted yet. */
  | 'still_minting'
  /** Reveal: the key is sealed for a recipient, so there is nothing to reveal here. */
  | 'sealed'
  /** Reveal: the one copy was already taken. */
  | 'already_revealed'
  /** Reveal: the controller did not answer in time. */
  | 'no_answer';

export class KeywardenError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  constructor(code: C, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** What was asked for is wrong (the CLI exits 2). */
export class UsageError extends KeywardenError<'usage'> {
  constructor(message: string) {
    super('usage', message);
  }
}
