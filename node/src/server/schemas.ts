/** Shared OpenAPI/JSON schemas. */
export const errorSchema = {
  type: 'object',
  properties: { error: { type: 'string' }, code: { type: 'string' }, currentRevision: { type: 'integer' } },
  required: ['error', 'code'],
} as const;

const DESCRIPTIONS: Record<number, string> = {
  400: 'Bad input',
  404: 'Not found',
  409: 'Conflict',
  410: 'Revision compacted',
  412: 'Precondition failed',
  413: 'Too large',
  503: 'No leader / not ready / timed out (Retry-After)',
};

export function errorResponses(...codes: number[]): Record<number, unknown> {
  const out: Record<number, unknown> = {};
  for (const c of codes) out[c] = { description: DESCRIPTIONS[c] ?? 'Error', ...errorSchema };
  return out;
}

export const memberSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    peerAddress: { type: 'string' },
    role: { type: 'string', enum: ['voter', 'learner'] },
    isLeader: { type: 'boolean' },
    matchIndex: { type: 'integer' },
    lastContact: { type: ['string', 'null'] },
  },
  required: ['id', 'name', 'peerAddress', 'role'],
} as const;

export const statusSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    clusterId: { type: 'string' },
    role: { type: 'string' },
    term: { type: 'integer' },
    leaderId: { type: 'string' },
    commit: { type: 'integer' },
    applied: { type: 'integer' },
    lastIndex: { type: 'integer' },
    snapshotIndex: { type: 'integer' },
    configIndex: { type: 'integer' },
    revision: { type: 'integer' },
    member: { type: 'boolean' },
    removed: { type: 'boolean' },
    peerAddress: { type: 'string' },
  },
} as const;
