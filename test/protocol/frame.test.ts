// The frame decoder after it refused a length: it buffers nothing more, whatever the peer sends
// (found by the torture fuzzers: 6.5 MB held after a 0xFFFFFFFF header).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameDecoder } from '../../protocol/frame.js';

test('[ATM-1.3] after a refused length the decoder keeps no bytes and takes no more', () => {
  const decoder = new FrameDecoder(() => ({ bodyBytesMin: 1, bodyBytesMax: 1024 }));
  decoder.push(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
  const refused = decoder.next();
  assert.ok(refused !== null && 'error' in refused);
  assert.equal(refused.error.reason, 'FRAME_LENGTH');
  assert.equal(decoder.pendingBytes, 0);
  for (let i = 0; i < 100; i++) decoder.push(Buffer.alloc(64 * 1024));
  assert.equal(decoder.pendingBytes, 0, 'a peer that keeps sending is not buffered');
  assert.ok(decoder.next() !== null, 'and the decoder stays failed');
});
