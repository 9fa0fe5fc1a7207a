#!/usr/bin/env node
// One fuzzer, all of them, or the live mutation proxy, from the command line (test/torture/fuzz-cli.ts):
//   node scripts/fuzz.mjs frame|handshake|record|messages|all [--runs N] [--seed S]
//   node scripts/fuzz.mjs proxy [--sessions N] [--lanes N] [--seed S]
import { fuzzMain } from '../dist/test/torture/fuzz-cli.js';

process.exitCode = await fuzzMain(process.argv.slice(2));
