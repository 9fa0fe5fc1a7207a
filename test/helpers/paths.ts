// Tests run compiled from dist/test/; data files (vectors) stay in the source tree.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const vectorsDir = path.join(repoRoot, 'test', 'vectors');
export const atmBin = path.join(repoRoot, 'dist', 'bin', 'atm.js');
