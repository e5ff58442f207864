import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { ApiError, PreconditionFailedError } from '../errors.js';

/** Sends `{"error","code"}` with the status of an ApiError (and Retry-After for 503s). */
export function sendApiError(reply: FastifyReply, err: ApiError): FastifyReply {
  if (err.retryAfter !== undefined) reply.header('retry-after', String(err.retryAfter));
  const body: Record<string, unknown> = { error: err.message, code: err.code };
  if (err instanceof PreconditionFailedError && err.currentRevision !== undefined) body.currentRevision = err.currentRevision;
  return reply.code(err.status).type('application/json').send(body);
}

/** Maps every error, ours or fastify's, to a JSON error; nothing escapes as a crash. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | ApiError | Error, request, reply) => {
    if (error instanceof ApiError) return sendApiError(reply, error);
    const fe = error as FastifyError;
    if (fe.validation) {
      return sendApiError(reply, new ApiError(400, 'bad_request', fe.message));
    }
    switch (fe.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendApiError(reply, new ApiError(413, 'too_large', 'request body is larger than the limit for this route'));
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return sendApiError(reply, new ApiError(400, 'bad_request', fe.message));
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return sendApiError(reply, new ApiError(415, 'unsupported_media_type', fe.message));
    }
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      return sendApiError(reply, new ApiError(fe.statusCode, 'bad_request', fe.message));
    }
    request.log.error({ err: error, url: request.url }, 'request failed');
    return sendApiError(reply, new ApiError(500, 'internal', `internal error: ${error.message}`));
  });
  app.setNotFoundHandler((request, reply) =>
    sendApiError(reply, new ApiError(404, 'not_found', `no route for ${request.method} ${request.url.split('?')[0]}`)),
  );
}
