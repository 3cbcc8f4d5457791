import { parseCommandArgs } from '../args.js';
import type { CliCommand } from '../io.js';

const help = `Usage: sandbox-egress-emulator detect [--json]

Which interception modes work on this machine, and precisely why not (a kernel setting, a missing
nft, conntrack or util-linux binary, a container's seccomp profile, no root), each with the one
command that fixes it. Creates and deletes a probe network namespace and a probe user namespace.

Options:
  --json              the same as JSON
  -h, --help          print this help
`;

/** `detect`: exit code 0 when some transparent mode is available, 1 when only explicit is. */
export const run: CliCommand = async (args, io) => {
  const parsed = parseCommandArgs(io, help, { args, options: { json: { type: 'boolean' } } });
  if (typeof parsed === 'number') return parsed;
  const { detectInterception, formatDetection } = await import('../../interception/transparent/detect.js');
  const d = await detectInterception();
  io.stdout.write(parsed.values.json ? `${JSON.stringify(d, null, 2)}\n` : formatDetection(d));
  return d.root.ok || d.rootless.ok ? 0 : 1;
};
