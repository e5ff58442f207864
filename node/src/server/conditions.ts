import { BadRequestError } from '../errors.js';
import type { WriteCondition } from './node-api.js';

/** Parses If-Match / If-None-Match into a write condition. If-Match takes one revision ETag: "<rev>". */
export function parseConditions(ifMatch: string | undefined, ifNoneMatch: string | undefined): WriteCondition {
  const cond: WriteCondition = {};
  if (ifMatch !== undefined) {
    const m = /^\s*(?:W\/)?"?([1-9]\d{0,14})"?\s*$/.exec(ifMatch);
    if (!m) throw new BadRequestError(`If-Match must be a revision ETag like "42" (for create-only use If-None-Match: *), got ${JSON.stringify(ifMatch)}`, 'invalid_precondition');
    cond.ifMatch = Number(m[1]);
  }
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== '*') throw new BadRequestError('If-None-Match supports only "*" (create only)', 'invalid_precondition');
    cond.ifNoneMatch = true;
  }
  if (cond.ifMatch !== undefined && cond.ifNoneMatch) {
    throw new BadRequestError('If-Match and If-None-Match cannot be combined', 'invalid_precondition');
  }
  return cond;
}

export function etag(revision: number): string {
  return `"${revision}"`;
}
