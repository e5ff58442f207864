import { InvalidCommandError, KeyNotFoundError, PreconditionFailedError } from './errors.js';
import type { ApplyResult } from './apply-plan.js';

/** The typed error for a failed apply result (for the proposer to reject its waiter with), or null if it succeeded. */
export function resultError(result: ApplyResult, key: string): Error | null {
  switch (result.kind) {
    case 'precondition':
      return new PreconditionFailedError(key, result.currentModRevision);
    case 'notFound':
      return new KeyNotFoundError(key);
    case 'invalid':
      return new InvalidCommandError(result.message);
    default:
      return null;
  }
}
