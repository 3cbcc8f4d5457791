import type { CliCommand } from '../io.js';
import { act, clientFor, printResult, request, show, step } from '../s0/command-helpers.js';
import { executeTree, type S0CommandDef, type S0Context } from '../s0/command-tree.js';
import { parseCredentialSourceFile } from '../s0/credential-file.js';
import type { FlagSpec } from '../s0/flags.js';
import { readFileLikeGo } from '../s0/read-input.js';
import { credentialSourceListTable, credentialSourceTable } from '../s0/table.js';

/**
 * `credential list|get|create|update|delete`: the official `s0 credential` commands
 * (`internal/commands/credential_source.go`). Secrets go in through `-f` only and never come back.
 */

const fileFlag: FlagSpec = { name: 'file', short: 'f', kind: 'string', usage: 'path to credential source YAML/JSON file (required)' };

/** Upstream checks `--file` and reads it before it even builds a client. */
async function readWriteRequest(ctx: S0Context) {
  const path = ctx.flags.str('file');
  if (path.trim() === '') {
    ctx.io.stderr.write('Error: --file is required\n');
    return undefined;
  }
  const req = await step(ctx.io, 'Error reading credential source spec', async () => parseCredentialSourceFile(await readFileLikeGo(path)));
  return req.ok ? req.value : undefined;
}

export const credentialCommand: S0CommandDef = {
  name: 'credential',
  short: 'Manage egress credential sources',
  long: 'List, get, create, update, and delete team-scoped egress credential sources.',
  subcommands: [
    {
      name: 'list',
      short: 'List credential sources',
      async run(ctx) {
        return show(ctx, 'Error listing credential sources', async (client) => (await client.listCredentialSources()) ?? [], credentialSourceListTable);
      },
    },
    {
      name: 'get',
      use: 'get <name>',
      short: 'Get credential source details',
      exactArgs: 1,
      async run(ctx) {
        return show(ctx, 'Error getting credential source', (client) => client.getCredentialSource(ctx.args[0]!), credentialSourceTable);
      },
    },
    {
      name: 'create',
      short: 'Create a credential source',
      flags: [fileFlag],
      async run(ctx) {
        const req = await readWriteRequest(ctx);
        if (!req) return 1;
        return show(ctx, 'Error creating credential source', (client) => client.createCredentialSource(req), credentialSourceTable);
      },
    },
    {
      name: 'update',
      use: 'update <name>',
      short: 'Update a credential source',
      exactArgs: 1,
      flags: [fileFlag],
      async run(ctx) {
        const name = ctx.args[0]!;
        const req = await readWriteRequest(ctx);
        if (!req) return 1;
        // The positional name wins over the file's.
        req.name = name;
        return show(ctx, 'Error updating credential source', (client) => client.updateCredentialSource(name, req), credentialSourceTable);
      },
    },
    {
      name: 'delete',
      use: 'delete <name>',
      short: 'Delete a credential source',
      exactArgs: 1,
      async run(ctx) {
        const name = ctx.args[0]!;
        return act(ctx, 'Error deleting credential source', (client) => client.deleteCredentialSource(name), (answer) => {
          const message = answer?.message;
          return typeof message === 'string' && message.trim() !== '' ? `${message}\n` : `Credential source ${name} deleted successfully\n`;
        });
      },
    },
  ],
};

export const run: CliCommand = (args, io) => executeTree(credentialCommand, args, io);
