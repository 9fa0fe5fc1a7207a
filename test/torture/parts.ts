// Every part of the torture suite, in the order `npm run torture` runs them.
import { fuzzPart, mutationPart } from './fuzz-part.js';
import { spinPart } from './spin.js';
import { crashPart, diskFullPart, durabilityPart, historyPart, slowlorisPart, type Part } from './runner.js';

export { main } from './runner.js';

export const parts: readonly Part[] = [
  crashPart,
  historyPart,
  durabilityPart,
  diskFullPart,
  slowlorisPart,
  fuzzPart,
  mutationPart,
  spinPart,
];
