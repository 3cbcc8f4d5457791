import { Hono } from 'hono';
import type { CredentialSourceService, CredentialSourceWrite } from '../../control-plane/credential-sources.js';
import { decoders } from '../decoders.js';
import { ok } from '../envelope.js';
import { readBodyText } from '../body.js';

export function credentialSourceRoutes(deps: { credentialSources: CredentialSourceService }) {
  const { credentialSources } = deps;
  const decode = async (text: string) => {
    const { decodeBody, credentialSourceWriteSchema } = await decoders();
    return decodeBody(text, credentialSourceWriteSchema, 'CredentialSourceWriteRequest') as CredentialSourceWrite;
  };
  return new Hono()
    .get('/api/v1/credential-sources', (c) => ok(c, credentialSources.list()))
    .post('/api/v1/credential-sources', async (c) => ok(c, credentialSources.create(await decode(await readBodyText(c))), 201))
    .get('/api/v1/credential-sources/:name', (c) => ok(c, credentialSources.get(c.req.param('name'))))
    .put('/api/v1/credential-sources/:name', async (c) =>
      ok(c, credentialSources.update(c.req.param('name'), await decode(await readBodyText(c)))),
    )
    .delete('/api/v1/credential-sources/:name', (c) => {
      credentialSources.delete(c.req.param('name'));
      return ok(c, { deleted: true });
    });
}
