import { describe, expect, it } from 'vitest';
import { EXIT, EXIT_OF } from '../../../src/cli/exit-codes.ts';
import { RevealError } from '../../../src/client/reveal.ts';
import { KeywardenError, UsageError } from '../../../src/rules/index.ts';

// One error shape: every error a person acts on is a KeywardenError whose code the CLI maps to the exit
// code scripts rely on.

describe('error codes and exit codes', () => {
  it('a reveal error is a KeywardenError with its code', () => {
    const err = new RevealError('already_revealed', 'taken');
    expect(err).toBeInstanceOf(KeywardenError);
    expect([err.name, err.code, EXIT_OF[err.code]]).toEqual(['RevealError', 'already_revealed', 4]);
  });

  it('keeps the exit codes scripts were promised', () => {
    expect(EXIT_OF[new UsageError('bad flag').code]).toBe(EXIT.usage);
    expect(EXIT_OF).toEqual({
      usage: 2,
      failure: 1,
      not_found: 3,
      still_minting: 1,
      sealed: 3,
      already_revealed: 4,
      no_answer: 1,
    });
  });
});
