#!/usr/bin/env node
// `npm run torture [-- PART… --long --seed N --json]`: the torture suite (RELIABILITY.md), run
// from the compiled tests. Kept outside dist/test so `node --test dist/test/` never starts it.
import { main, parts } from '../dist/test/torture/parts.js';

process.exitCode = await main(process.argv.slice(2), parts);
