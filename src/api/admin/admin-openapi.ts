import type { RouterRoute } from 'hono/types';
import { apiStatus } from '../error-status.js';
import { adminTags, describedRoutes, json } from './openapi-operation.js';
import { componentSchema, componentSchemas, oneOfStrings, str } from './openapi-schema.js';
import type { OpenApiDocument } from './openapi-types.js';

export type { HttpMethod, JsonSchema, OpenApiDocument, OpenApiOperation, OpenApiParameter } from './openapi-types.js';

/**
 * The OpenAPI 3.1 document of the emulator admin API (`GET /_emulator/openapi.json`), generated from the
 * routes the admin app serves: each describes its operation where it is registered (`describeRoute`,
 * openapi-operation.ts) and names the schemas it answers with beside it (`componentSchema`). Which routes
 * exist is checked against the app's own route list by test/integration/api/admin-openapi.test.ts.
 */

export interface AdminOpenApiOptions {
  /** The emulator's version (`info.version` of the document). */
  version: string;
  /** The admin app's routes, relative to `/_emulator` (`adminApp(...).routes`). */
  routes: readonly RouterRoute[];
}

const errorEnvelope = componentSchema('ErrorEnvelope', () => ({
  type: 'object',
  required: ['success', 'error'],
  properties: {
    success: { const: false },
    error: { type: 'object', required: ['code', 'message'], properties: { code: oneOfStrings(Object.keys(apiStatus)), message: str(), details: {} } },
  },
}));

const errorResponse = (description: string) => ({ description, content: json(errorEnvelope) });

/** The admin API's OpenAPI 3.1 document: the described routes among `routes`. */
export function adminOpenApiDocument({ version, routes }: AdminOpenApiOptions): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  const used = new Set<string>();
  for (const route of describedRoutes(routes, '/_emulator')) {
    (paths[route.path] ??= {})[route.method] = route.operation;
    for (const name of route.operation.tags) used.add(name);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'sandbox-egress-emulator admin API',
      version,
      description:
        'The emulator admin API under /_emulator (never a Sandbox0 path). Every route needs the bearer token except health. ' +
        'Responses use the Sandbox0 envelope: {"success":true,"data":...} or {"success":false,"error":{"code","message","details"?}}.',
    },
    tags: Object.values(adminTags).filter((t) => used.has(t.name)),
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'the emulator token (SANDBOX0_TOKEN; `token` of the ready file)' } },
      schemas: componentSchemas(),
      responses: {
        BadRequest: errorResponse('bad_request: the body or query is invalid (the message names the field)'),
        Unauthorized: errorResponse('unauthorized: the bearer token is missing or wrong'),
        NotFound: errorResponse('not_found: no such sandbox (or fault)'),
        Conflict: errorResponse('conflict: a fault with that name exists'),
      },
    },
  };
}
