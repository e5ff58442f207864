import { BadRequestError } from '../errors.js';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Throws a 400 for a key that is empty, longer than maxBytes (UTF-8) or contains control characters. */
export function validateKey(key: string, maxBytes: number): void {
  if (key.length === 0) throw new BadRequestError('key must not be empty', 'invalid_key');
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > maxBytes) throw new BadRequestError(`key is ${bytes} bytes; the limit is ${maxBytes}`, 'invalid_key');
  if (CONTROL.test(key)) throw new BadRequestError('key must not contain control characters', 'invalid_key');
}

/** Validates a list/watch prefix: like a key, but may be empty. */
export function validatePrefix(prefix: string, maxBytes: number): void {
  if (prefix.length > 0) validateKey(prefix, maxBytes);
}
