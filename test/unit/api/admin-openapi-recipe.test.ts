import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { adminOpenApiDocument } from '../../../src/api/admin/admin-openapi.js';
import { describeRoute, ok, pathParam, responses, tag } from '../../../src/api/admin/openapi-operation.js';
import { componentSchema, objectWith, str } from '../../../src/api/admin/openapi-schema.js';
import { okJson } from '../../../src/api/envelope.js';

/**
 * "Where to add an admin API route": the route, its description beside it and the schema it answers
 * with, in one file; the admin app's `.route(...)` line serves it. The OpenAPI document is generated from
 * the served routes, so the route appears in it with nothing else to edit.
 */
describe('the admin OpenAPI document is generated from the described routes', () => {
  const widgetSchema = componentSchema('ExampleWidget', () => objectWith('name', str('the widget name')));
  const exampleRoutes = () =>
    new Hono()
      .get(
        '/widgets/:name',
        describeRoute({
          operationId: 'getWidget', tags: [tag.sandboxes], summary: 'A widget', parameters: [pathParam('name', 'widget name')],
          responses: responses({ '200': ok('the widget', widgetSchema) }, 'NotFound'),
        }),
        (c) => okJson(c, { name: c.req.param('name') }),
      )
      // Served but not described: not in the document (the drift test against the app fails on it).
      .get('/undescribed', (c) => okJson(c, {}));

  it('lists a described route under /_emulator with its operation, tags and named schema', async () => {
    const app = new Hono().route('/', exampleRoutes());
    const doc = adminOpenApiDocument({ version: '0.0.0', routes: app.routes });
    expect(Object.keys(doc.paths)).toEqual(['/_emulator/widgets/{name}']);
    const op = doc.paths['/_emulator/widgets/{name}']!.get!;
    expect(op.operationId).toBe('getWidget');
    expect(op.responses).toEqual({
      '200': { description: 'the widget', content: { 'application/json': { schema: { type: 'object', required: ['success', 'data'], properties: { success: { const: true }, data: { $ref: '#/components/schemas/ExampleWidget' } } } } } },
      '401': { $ref: '#/components/responses/Unauthorized' },
      '404': { $ref: '#/components/responses/NotFound' },
    });
    expect(doc.components.schemas.ExampleWidget).toEqual({ type: 'object', required: ['name'], properties: { name: { type: 'string', description: 'the widget name' } } });
    expect(doc.tags.map((t) => t.name)).toEqual(['sandboxes']);
    // The description is a pass-through middleware: the route answers as before.
    const res = await app.request('/widgets/w1');
    expect(await res.json()).toEqual({ success: true, data: { name: 'w1' } });
  });
});
