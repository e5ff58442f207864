// Typed errors the HTTP layer maps to status codes by their `code`.

/** A put/delete precondition (If-Match / If-None-Match) did not hold → 412. */
export class PreconditionFailedError extends Error {
  readonly code = 'precondition_failed';
  /** The key's modRevision when the command was applied; 0 if the key did not exist. */
  readonly currentModRevision: number;

  constructor(key: string, currentModRevision: number) {
    super(
      currentModRevision === 0
        ? `precondition failed for key "${key}": it does not exist`
        : `precondition failed for key "${key}": its current modRevision is ${currentModRevision}`,
    );
    this.name = 'PreconditionFailedError';
    this.currentModRevision = currentModRevision;
  }
}

/** Deleting (or reading) a key that does not exist → 404. */
export class KeyNotFoundError extends Error {
  readonly code = 'not_found';

  constructor(key: string) {
    super(`key "${key}" not found`);
    this.name = 'KeyNotFoundError';
  }
}

/** A watch asked for history older than what is retained → 410 Gone. */
export class CompactedRevisionError extends Error {
  readonly code = 'compacted';
  readonly requestedRevision: number;
  /** The oldest revision a watch may start from now. */
  readonly oldestRevision: number;

  constructor(requestedRevision: number, compactRevision: number) {
    super(`revision ${requestedRevision} has been compacted; the oldest retained revision is ${compactRevision + 1}`);
    this.name = 'CompactedRevisionError';
    this.requestedRevision = requestedRevision;
    this.oldestRevision = compactRevision + 1;
  }
}

/** A command that cannot be encoded, or bytes that are not a valid command → 400. */
export class InvalidCommandError extends Error {
  readonly code = 'invalid_command';

  constructor(message: string) {
    super(message);
    this.name = 'InvalidCommandError';
  }
}

/** The `<dataDir>/state` store cannot be used (locked, corrupted, unreadable). The node must not start. */
export class StateStoreError extends Error {
  readonly code: 'locked' | 'state_corrupt' | 'io';
  readonly path: string;

  constructor(code: 'locked' | 'state_corrupt' | 'io', path: string, problem: string, options?: { cause?: unknown }) {
    super(`state store refused: ${path}: ${problem}`, options);
    this.name = 'StateStoreError';
    this.code = code;
    this.path = path;
  }
}
