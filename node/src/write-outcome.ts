import { ApiError, BadRequestError, NotFoundError, PreconditionFailedError } from './errors.js';
import type { WriteOutcome } from './node-ports.js';

/** The client's answer to an applied put or delete: its revision, or the error the state machine decided on. */
export function outcomeToResult(key: string, outcome: WriteOutcome): { revision: number } {
  if (outcome.ok) return { revision: outcome.revision };
  switch (outcome.code) {
    case 'precondition':
      return raise(new PreconditionFailedError(`precondition failed for ${JSON.stringify(key)}: its revision is ${outcome.currentModRevision}`, outcome.currentModRevision));
    case 'not_found':
      return raise(new NotFoundError(`key ${JSON.stringify(key)} not found`, 'key_not_found'));
    default:
      return raise(new BadRequestError(outcome.message));
  }
}

function raise(err: ApiError): never {
  throw err;
}
