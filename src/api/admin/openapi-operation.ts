import type { MiddlewareHandler } from 'hono';
import type { RouterRoute } from 'hono/types';
import { str } from './openapi-schema.js';
import type { HttpMethod, JsonSchema, OpenApiOperation, OpenApiParameter, OpenApiResponse } from './openapi-types.js';

/**
 * An admin route's OpenAPI operation, written where the route is registered:
 * `.get('/info', describeRoute({...}), handler)`. The document (admin-openapi.ts) is generated from the
 * described routes the app serves, so a route and its description cannot drift apart.
 */

const operationKey = Symbol('openapi operation');
type Described = MiddlewareHandler & { [operationKey]: OpenApiOperation };

/** A pass-through middleware that carries the route's operation for the document. */
export function describeRoute(operation: OpenApiOperation): MiddlewareHandler {
  const middleware: MiddlewareHandler = async (_c, next) => {
    await next();
  };
  return Object.assign(middleware, { [operationKey]: operation });
}

export interface DescribedRoute {
  method: HttpMethod;
  /** OpenAPI form (`/_emulator/sandboxes/{id}`). */
  path: string;
  operation: OpenApiOperation;
}

/**
 * The described routes among an app's routes, their paths under `prefix`. hono keeps a sub-app's handlers
 * as they are when it has no error handler of its own (the admin sub-apps have none).
 */
export function describedRoutes(routes: readonly RouterRoute[], prefix: string): DescribedRoute[] {
  return routes.flatMap((r) => {
    const operation = (r.handler as Partial<Described>)[operationKey];
    if (!operation) return [];
    return [{ method: r.method.toLowerCase() as HttpMethod, path: prefix + r.path.replace(/:([A-Za-z_]+)/g, '{$1}'), operation }];
  });
}

/** The document's tags, in its order; a document lists those its operations use. */
export const adminTags = {
  emulator: { name: 'emulator', description: 'health, info, reset, this document' },
  sandboxes: { name: 'sandboxes', description: 'sandbox interception, hosts entries, dry runs and probes' },
  dns: { name: 'dns', description: 'the platform and customer-side DNS views' },
  flows: { name: 'flows', description: 'audit events of every sandbox' },
  proxy: { name: 'test proxy', description: 'the embedded SOCKS5 test proxy' },
} as const;
export const tag = Object.fromEntries(Object.entries(adminTags).map(([key, t]) => [key, t.name])) as { [K in keyof typeof adminTags]: (typeof adminTags)[K]['name'] };

// --- the pieces of an operation ----------------------------------------------------------------------

/** A success envelope around `data` (left out when there is nothing, as `ok` does). */
export const envelope = (data: JsonSchema, dataRequired = true): JsonSchema => ({
  type: 'object',
  required: dataRequired ? ['success', 'data'] : ['success'],
  properties: { success: { const: true }, data },
});
export const json = (schema: JsonSchema) => ({ 'application/json': { schema } });
/** A success response: `data` in the envelope. */
export const ok = (description: string, data: JsonSchema, dataRequired = true) => ({ description, content: json(envelope(data, dataRequired)) });
/** A JSON response not wrapped in the envelope (documents served as they are). */
export const plain = (description: string, schema: JsonSchema) => ({ description, content: json(schema) });
export const body = (schema: JsonSchema) => ({ required: true as const, content: json(schema) });

/** The shared error responses (`#/components/responses/...`) and their status. */
export const errorResponses = { BadRequest: '400', Unauthorized: '401', NotFound: '404', Conflict: '409' } as const;
type ErrorName = keyof typeof errorResponses;
const errorRef = (name: ErrorName) => ({ $ref: `#/components/responses/${name}` });

/** The responses of a route behind the token: its success responses, 401 and the errors it names. */
export function responses(success: Record<string, OpenApiResponse>, ...errors: Exclude<ErrorName, 'Unauthorized'>[]): Record<string, OpenApiResponse> {
  const named: ErrorName[] = ['Unauthorized', ...errors];
  return { ...success, ...Object.fromEntries(named.map((name) => [errorResponses[name], errorRef(name)])) };
}

export const pathParam = (name: string, description: string): OpenApiParameter => ({ name, in: 'path', required: true, description, schema: str() });
export const idParam = pathParam('id', 'sandbox id');
export const queryParam = (name: string, description: string, schema: JsonSchema = str(), required = false): OpenApiParameter => ({ name, in: 'query', required, description, schema });
