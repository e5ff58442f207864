/** Size limits for client input; all configurable from flags. */
export interface Limits {
  /** Max key length in UTF-8 bytes. */
  maxKeyBytes: number;
  /** Max value size in bytes (PUT body). */
  maxValueBytes: number;
  /** Max JSON body for admin requests. */
  maxJsonBodyBytes: number;
  /** How long a forwarded request may take before the caller gets a 503. */
  forwardTimeoutMs: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxKeyBytes: 1024,
  maxValueBytes: 1024 * 1024,
  maxJsonBodyBytes: 64 * 1024,
  forwardTimeoutMs: 10_000,
};
