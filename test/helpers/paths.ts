// Tests run compiled (dist/test/ or a helper's .build-*/test/); data files stay in the source tree.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

function findRepoRoot(): string {
  for (let dir = here; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && fs.existsSync(path.join(dir, 'test', 'vectors'))) return dir;
  }
  return process.cwd();
}

export const repoRoot = findRepoRoot();
export const vectorsDir = path.join(repoRoot, 'test', 'vectors');
/** The compiled CLI next to these compiled tests (…/test/helpers → …/bin/atm.js). */
export const atmBin = path.resolve(here, '..', '..', 'bin', 'atm.js');
/** Committed known-answer files (test/golden/), read from the source tree. */
export const goldenDir = path.join(repoRoot, 'test', 'golden');
