import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Hono, type Context } from 'hono';
import { packageRoot } from '../paths.js';

/**
 * The web view (`GET /` and `/_emulator/ui`): plain static files shipped in the package's `web/`
 * folder (no build step, no CDN), found from `dist/` and from the bundled CLI alike through the package
 * root. The page holds no data: it reads the API with the bearer token the user enters, like any
 * client, so these routes need no token and the API keeps requiring one (no cookie, no CORS).
 */

/** The files served, by name under `/_emulator/ui/`, and their types. */
const assets: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

/** Only this origin's own scripts, styles and API: nothing inline, nothing from elsewhere. */
const contentSecurityPolicy =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const webUiDir = join(packageRoot, 'web');

export function webUiRoutes(dir: string = webUiDir) {
  // Read once, on the first request (the files are small; start-up does not pay for them).
  const cache = new Map<string, Buffer>();
  const file = (name: string): Buffer => {
    let body = cache.get(name);
    if (!body) cache.set(name, (body = readFileSync(join(dir, name))));
    return body;
  };
  const serve = (c: Context, name: string) => {
    const type = assets[name];
    if (!type) return c.notFound();
    return c.body(new Uint8Array(file(name)), 200, {
      'Content-Type': type,
      'Cache-Control': 'no-cache',
      'Content-Security-Policy': contentSecurityPolicy,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    });
  };
  return new Hono()
    .get('/', (c) => serve(c, 'index.html'))
    .get('/_emulator/ui', (c) => serve(c, 'index.html'))
    .get('/_emulator/ui/:file', (c) => serve(c, c.req.param('file')));
}

/** Paths of the web view, which are served without the token. */
export const isWebUiPath = (path: string): boolean => path === '/_emulator/ui' || path.startsWith('/_emulator/ui/');
