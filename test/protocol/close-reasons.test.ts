// [ATM-1.3, ATM-3.3, ATM-4.8] The host's SecureChannel over a real loopback socket reports each
// refused frame with the close reason of the check that refused it, carried as a typed result
// from the frame decoder and the record opener (never guessed from message text): a length the
// limits refuse is FRAME_LENGTH, a bad version byte VERSION, an unknown type under a valid MAC
// RECORD_TYPE. The kiosk side is the pure handshake on a raw socket, so the test can forge records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { SecureChannel, type HelloRefusal } from '../../protocol/channel.js';
import type { SessionCloseReason } from '../../protocol/errors.js';
import { FRAME_BYTES_MAX, FrameDecoder, encodeFrame } from '../../protocol/frame.js';
import { M2_BYTES, kioskFinish, kioskStart, type SessionKeys } from '../../protocol/handshake.js';
import { DIRECTION_KIOSK_TO_HOST, RECORD_TYPE_DATA, RecordSealer, type RecordType } from '../../protocol/record.js';

const KIOSK_ID = 'kiosk-close-1';
const PSK = crypto.randomBytes(32);

interface Session {
  socket: net.Socket;
  keys: SessionKeys;
  /** Resolves with the reason the host closed the session for. */
  closed: Promise<SessionCloseReason>;
  stop: () => void;
}

/** A host channel on a loopback port and a hand-driven kiosk that has completed the handshake. */
async function openSession(): Promise<Session> {
  let reportClose: (reason: SessionCloseReason) => void = () => undefined;
  const closed = new Promise<SessionCloseReason>((resolve) => (reportClose = resolve));
  const server = net.createServer((stream) => {
    SecureChannel.accept(
      { stream, nowMs: Date.now, events: { onClose: (reason) => reportClose(reason) } },
      {
        lookupPsk: (kioskId) => (kioskId === KIOSK_ID ? PSK : null),
        dummyPsk: crypto.randomBytes(32),
        admitHello: (): HelloRefusal | null => null,
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const socket = net.connect(port, '127.0.0.1');
  const { m1, state } = kioskStart({ kioskId: KIOSK_ID, psk: PSK, nowMs: Date.now(), randomBytes: crypto.randomBytes });
  socket.write(encodeFrame(m1));
  const decoder = new FrameDecoder(() => ({ bodyBytesMin: M2_BYTES, bodyBytesMax: M2_BYTES }));
  const m2 = await new Promise<Buffer>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      const next = decoder.next();
      if (next !== null && 'frame' in next) resolve(next.frame);
      else if (next !== null) reject(new Error(next.error.detail));
    });
  });
  const finished = kioskFinish(state, m2);
  assert.ok(finished.ok, finished.ok ? '' : finished.reason);
  socket.write(encodeFrame(finished.m3));
  const stop = (): void => {
    socket.destroy();
    server.close();
  };
  return { socket, keys: finished.keys, closed, stop };
}

/** A data record sealed under the session's real keys, so only the altered field is wrong. */
function sealed(keys: SessionKeys, type: RecordType = RECORD_TYPE_DATA): Buffer {
  return new RecordSealer(keys.kioskToHost, DIRECTION_KIOSK_TO_HOST).seal(type, Buffer.from('{"id":1,"op":"ping"}'));
}

test('[ATM-1.3] a frame length over the maximum closes the session with FRAME_LENGTH', async () => {
  const session = await openSession();
  try {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(FRAME_BYTES_MAX + 1);
    session.socket.write(header);
    assert.equal(await session.closed, 'FRAME_LENGTH');
  } finally {
    session.stop();
  }
});

test('[ATM-3.3] a record with an unknown type under a valid MAC closes the session with RECORD_TYPE', async () => {
  const session = await openSession();
  try {
    session.socket.write(sealed(session.keys, 0x16 as RecordType));
    assert.equal(await session.closed, 'RECORD_TYPE');
  } finally {
    session.stop();
  }
});

test('[ATM-3.3] a record with a wrong version byte closes the session with VERSION', async () => {
  const session = await openSession();
  try {
    const frame = sealed(session.keys);
    frame[4] = 0x03; // the version byte, first byte of the body: checked before the MAC
    session.socket.write(frame);
    assert.equal(await session.closed, 'VERSION');
  } finally {
    session.stop();
  }
});

test('[ATM-3.4] a record with a flipped ciphertext bit closes the session with BAD_MAC', async () => {
  const session = await openSession();
  try {
    const frame = sealed(session.keys);
    frame[7] = (frame[7] as number) ^ 0x01;
    session.socket.write(frame);
    assert.equal(await session.closed, 'BAD_MAC');
  } finally {
    session.stop();
  }
});
