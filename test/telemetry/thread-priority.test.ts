// Telemetry threads lower their own priority (telemetry/thread-priority.ts): the thread that calls
// it gets nice +10 and the rest of the process, the bank's transaction thread included, keeps
// its own; where it cannot (no /proc), it answers null instead of throwing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { lowerThisThreadPriority, TELEMETRY_THREAD_NICE } from '../../telemetry/thread-priority.js';

const linux = fs.existsSync('/proc/thread-self');

test(
  'a worker that lowers its priority gets nice +10; the main thread keeps its own',
  { skip: linux ? false : 'needs Linux /proc/thread-self' },
  async () => {
    const mainBefore = os.getPriority(process.pid);
    const moduleUrl = new URL('../../telemetry/thread-priority.js', import.meta.url).href;
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads');
     const fs = require('node:fs');
     import(${JSON.stringify(moduleUrl)}).then(({ lowerThisThreadPriority }) => {
       const nice = lowerThisThreadPriority();
       const stat = fs.readFileSync('/proc/thread-self/stat', 'utf8');
       parentPort.postMessage({ nice, statNice: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) });
     });`,
      { eval: true },
    );
    const reply = await new Promise<{ nice: number | null; statNice: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    assert.equal(reply.nice, TELEMETRY_THREAD_NICE);
    assert.equal(reply.statNice, TELEMETRY_THREAD_NICE, 'the kernel has it for that thread');
    assert.equal(os.getPriority(process.pid), mainBefore, 'the main thread (the process id) is untouched');
  },
);

test('where the thread cannot be named the call answers null and does not throw', () => {
  const original = fs.readlinkSync;
  (fs as { readlinkSync: unknown }).readlinkSync = () => {
    throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
  };
  try {
    assert.equal(lowerThisThreadPriority(), null);
  } finally {
    (fs as { readlinkSync: unknown }).readlinkSync = original;
  }
});
