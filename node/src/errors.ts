/**
 * Errors the node reports to clients. Each carries the HTTP status and a stable machine-readable
 * code; the HTTP layer turns them into `{"error","code"}` bodies.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds for a `Retry-After` header (503s). */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export class BadRequestError extends ApiError {
  constructor(message: string, code = 'bad_request') {
    super(400, code, message);
  }
}

export class NotFoundError extends ApiError {
  constructor(message: string, code = 'not_found') {
    super(404, code, message);
  }
}

export class ConflictError extends ApiError {
  constructor(message: string, code = 'conflict') {
    super(409, code, message);
  }
}

export class GoneError extends ApiError {
  constructor(message: string, code = 'compacted') {
    super(410, code, message);
  }
}

export class PreconditionFailedError extends ApiError {
  constructor(message: string, readonly currentRevision?: number) {
    super(412, 'precondition_failed', message);
  }
}

export class PayloadTooLargeError extends ApiError {
  constructor(message: string) {
    super(413, 'too_large', message);
  }
}

/** 503: no leader, not a member yet, shutting down, or a proposal that did not commit in time. */
export class UnavailableError extends ApiError {
  constructor(message: string, code = 'unavailable', retryAfter = 1) {
    super(503, code, message, retryAfter);
  }
}

export class NoLeaderError extends UnavailableError {
  constructor(message = 'no leader is known; the cluster may be electing one or have lost quorum') {
    super(message, 'no_leader');
  }
}

export class NotReadyError extends UnavailableError {
  constructor(message: string) {
    super(message, 'not_ready');
  }
}

export class TimeoutError extends UnavailableError {
  constructor(message: string) {
    super(message, 'timeout');
  }
}

/** This node lost or never had leadership for a leader-only request; the HTTP layer forwards it. */
export class NotLeaderError extends UnavailableError {
  constructor(message = 'this node is not the leader') {
    super(message, 'not_leader');
  }
}
