import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BadRequestError } from '../../errors.js';
import { FORWARDED_HEADER, leaderOnly } from '../forwarding.js';
import type { Limits } from '../limits.js';
import type { AddMemberRequest, Consistency, NodeApi } from '../node-api.js';
import { errorResponses, memberSchema, statusSchema } from '../schemas.js';

const memberIdParams = {
  type: 'object',
  properties: { id: { type: 'string', pattern: '^[0-9a-f]{16}$', description: 'Member ID: 16 lowercase hex digits' } },
  required: ['id'],
} as const;

const membersQuery = {
  type: 'object',
  properties: { consistency: { type: 'string', enum: ['linearizable', 'serializable'], default: 'serializable' } },
} as const;

/** Status, membership and leadership routes. */
export async function adminRoutes(app: FastifyInstance, opts: { node: NodeApi; limits: Limits }): Promise<void> {
  const { node, limits } = opts;
  const onLeader = <T extends FastifyRequest>(fn: (request: T) => Promise<unknown>) =>
    leaderOnly(node, limits.forwardTimeoutMs, async (request, reply) => reply.send(await fn(request as T)));

  app.get('/v1/status', { schema: { summary: 'This node: id, name, cluster id, role, term, leader, indexes', tags: ['admin'], response: { 200: statusSchema } } }, async () => {
    await node.settled(); // a client that wrote, then reads the status, sees its write's revision
    return node.status();
  });

  app.get(
    '/v1/members',
    {
      schema: {
        summary: 'The members as this node knows them (consistency=linearizable: with every committed change); on the leader with match index and last contact',
        tags: ['admin'],
        querystring: membersQuery,
        response: { 200: { type: 'object', properties: { leaderId: { type: 'string' }, members: { type: 'array', items: memberSchema } } }, ...errorResponses(503) },
      },
    },
    async (request: FastifyRequest<{ Querystring: { consistency: Consistency } }>) => {
      const members = await node.listMembers(request.query.consistency);
      return { leaderId: node.status().leaderId, members };
    },
  );

  app.post(
    '/v1/bootstrap',
    { schema: { summary: 'Form a one-member cluster on an empty, unjoined node (409 otherwise)', tags: ['admin'], response: { 200: statusSchema, ...errorResponses(409) } } },
    async () => node.bootstrap(),
  );

  app.post(
    '/v1/members',
    {
      bodyLimit: limits.maxJsonBodyBytes,
      schema: {
        summary: 'Add a member (as a learner by default); 409 while another change is pending',
        tags: ['admin'],
        body: {
          type: 'object',
          properties: {
            id: { type: 'string', pattern: '^[0-9a-f]{16}$' },
            name: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[^\\u0000-\\u001f\\u007f]+$' },
            peerAddress: { type: 'string', minLength: 3, maxLength: 300, pattern: '^[^\\s/]+:[0-9]{1,5}$' },
            learner: { type: 'boolean', default: true },
          },
          required: ['id', 'name', 'peerAddress'],
          additionalProperties: false,
        },
        response: { 201: memberSchema, ...errorResponses(400, 409, 503) },
      },
    },
    leaderOnly(node, limits.forwardTimeoutMs, async (request, reply) => {
      const member = await node.addMember(request.body as AddMemberRequest);
      return reply.code(201).send(member);
    }),
  );

  app.post(
    '/v1/members/:id/promote',
    { schema: { summary: 'Promote a learner to voter; 409 until it has caught up', tags: ['admin'], params: memberIdParams, response: { 200: memberSchema, ...errorResponses(400, 404, 409, 503) } } },
    onLeader(async (request: FastifyRequest<{ Params: { id: string } }>) => node.promoteMember(request.params.id)),
  );

  app.delete(
    '/v1/members/:id',
    {
      schema: {
        summary: 'Remove a member (the leader transfers leadership first if it removes itself)',
        tags: ['admin'],
        params: memberIdParams,
        response: { 200: { type: 'object', properties: { id: { type: 'string' } } }, ...errorResponses(400, 404, 409, 503) },
      },
    },
    onLeader(async (request: FastifyRequest<{ Params: { id: string } }>) => node.removeMember(request.params.id)),
  );

  app.post(
    '/v1/leader/transfer',
    {
      bodyLimit: limits.maxJsonBodyBytes,
      schema: {
        summary: 'Hand leadership to `to`, or by default to the most caught-up voter',
        tags: ['admin'],
        body: { type: ['object', 'null'], properties: { to: { type: 'string', pattern: '^[0-9a-f]{16}$' } }, additionalProperties: false },
        response: { 200: { type: 'object', properties: { leaderId: { type: 'string' } } }, ...errorResponses(400, 404, 409, 503) },
      },
    },
    onLeader(async (request: FastifyRequest<{ Body: { to?: string } | null }>) => node.transferLeadership(request.body?.to)),
  );

  app.post(
    '/v1/internal/introduce',
    {
      bodyLimit: limits.maxJsonBodyBytes,
      schema: {
        hide: true,
        body: {
          type: 'object',
          properties: {
            clusterId: { type: 'string', pattern: '^[0-9a-f]{16}$' },
            leaderId: { type: 'string', pattern: '^[0-9a-f]{16}$' },
            members: {
              type: 'array',
              maxItems: 100,
              items: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9a-f]{16}$' }, peerAddress: { type: 'string', maxLength: 300 } }, required: ['id', 'peerAddress'] },
            },
          },
          required: ['clusterId', 'leaderId', 'members'],
        },
      },
    },
    async (request: FastifyRequest<{ Body: Parameters<NodeApi['introduce']>[0] }>) => {
      if (request.headers[FORWARDED_HEADER] === undefined) throw new BadRequestError('this route is for peers only (over the peer transport)');
      await node.introduce(request.body);
      return { ok: true };
    },
  );

  app.post(
    '/v1/internal/removed',
    {
      bodyLimit: limits.maxJsonBodyBytes,
      schema: {
        hide: true,
        body: {
          type: 'object',
          properties: { clusterId: { type: 'string', pattern: '^[0-9a-f]{16}$' }, memberId: { type: 'string', pattern: '^[0-9a-f]{16}$' } },
          required: ['clusterId', 'memberId'],
        },
      },
    },
    async (request: FastifyRequest<{ Body: { clusterId: string; memberId: string } }>) => {
      if (request.headers[FORWARDED_HEADER] === undefined) throw new BadRequestError('this route is for peers only (over the peer transport)');
      await node.noticeRemoved(request.body);
      return { ok: true };
    },
  );
}
