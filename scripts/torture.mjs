#!/usr/bin/env node
// `npm run torture [-- PART… --long --seed N --plant BUG --json]`: the torture suite
// (RELIABILITY.md), run from the compiled tests. Kept outside dist/test so `node --test
// dist/test/` never starts it.
//
// Planted bugs are switched on through ATM_TEST_FAULTS, which protocol/ reads once when it
// loads: so --plant is turned into that variable here, before anything of ours is imported,
// and the kiosk side of a bug (deposit-new-id) is live in this process as the bank's is in its.
const argv = process.argv.slice(2);
const plants = argv.flatMap((arg, index) =>
  arg === '--plant' ? [argv[index + 1] ?? ''] : arg.startsWith('--plant=') ? [arg.slice('--plant='.length)] : [],
);
if (plants.length > 0) process.env.ATM_TEST_FAULTS = `plant=${plants.join(';')}`;
const { main, parts } = await import('../dist/test/torture/parts.js');

process.exitCode = await main(argv, parts);
