import { beforeAll } from 'vitest';
import { resetEmulator } from 'sandbox-egress-emulator/vitest';

beforeAll(() => resetEmulator());
