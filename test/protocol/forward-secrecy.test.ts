// Forward secrecy (DESIGN §3, HANDSHAKE.md §2.3) shown on a real recorded session: a kiosk
// talks to a real bank through the byte-level proxy, which records every frame (handshake,
// login, deposit, responses, close). The test then plays an attacker who, later, also
// obtains the kiosk's PSK (a stolen kiosk, a leaked keystore).
//
// Why this shows forward secrecy. The master secret is MS = HKDF-Extract(psk_prk, dh) with
// dh = X25519(Ec_priv, Es_pub) = X25519(Es_priv, Ec_pub). Everything else in the key schedule
// (LABEL, m1, m2, so th2 and th3) is on the wire, and the PSK is now known too; dh is the
// only missing input, and computing it needs one of the two ephemeral private keys, which
// never travel and are wiped once the handshake is done. So:
//   (a) given the PSK, the transcript AND the kiosk's ephemeral private key (captured here as
//       it was drawn: the first 32 random bytes kioskStart asks for), the test derives the
//       keys and decrypts the recorded deposit: the analysis below can succeed, so its
//       failures in (b) mean something;
//   (b) given the PSK and the transcript only, every derivation an attacker could try (dh
//       replaced by public values or zeros, the seed's "MS sent encrypted under the PSK",
//       every 32-byte string of the transcript as dh, as MS, as a key or as an X25519
//       private key) fails to open a single recorded record;
//   (c) the ephemeral private keys are wiped after the handshake, on both sides, so a
//       memory dump after the session does not hand the attacker (a).
// The seed protocol, which sent a server-random MS encrypted under the PSK, fails (b): its
// MS is one decryption away for anyone who learns the PSK.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { BankConnection } from '../../protocol/index.js';
import {
  hkdfExpand,
  hkdfExtract,
  hmacSha256,
  sha256,
  x25519,
  x25519KeyPairFromPrivate,
  type RandomBytes,
} from '../../protocol/crypto.js';
import {
  DIRECTION_HOST_TO_KIOSK,
  DIRECTION_KIOSK_TO_HOST,
  RECORD_TAG_BYTES,
  RecordOpener,
} from '../../protocol/record.js';
import type { DirectionKeys } from '../../protocol/handshake.js';
import { TEST_PASSWORD, startTestBank, type TestBank } from '../helpers/bank.js';
import { FakeClock } from '../helpers/clock.js';
import { startProxy, type Proxy, type ProxyFrame } from '../helpers/proxy.js';

// Restated from HANDSHAKE.md §2.1-§2.3 rather than imported: the attacker works from the spec.
const LABEL = Buffer.from('ATMv2 X25519 HKDF-SHA256 AES-256-CTR HMAC-SHA256', 'ascii');
const REC_LABEL = Buffer.from('atm2 rec', 'ascii');
const FRAME_HEADER_BYTES = 4;
const M1 = { bytes: 122, nonce: 26, ephemeral: 58, mac: 90 } as const; // ver type kid[16] ts[8] | Nc | Ec_pub | mac1
const M2 = { bytes: 98, nonce: 2, ephemeral: 34, fin: 66 } as const; // ver type | Ns | Es_pub | fin_h
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex'); // HANDSHAKE.md §2.2
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const DEPOSIT = { txnId: 'fs-deposit-0001', amountCents: 1_234 } as const;
const USERNAME = 'forward-user';

interface Draw {
  lengthBytes: number;
  handedOut: Buffer; // the very buffer the code received (to see whether it wipes it)
  copy: Buffer; // what it held when it was drawn
}

/** A RandomBytes that remembers what it handed out. */
function recordingRandom(): { randomBytes: RandomBytes; draws: Draw[] } {
  const draws: Draw[] = [];
  return {
    draws,
    randomBytes: (lengthBytes) => {
      const handedOut = crypto.randomBytes(lengthBytes);
      draws.push({ lengthBytes, handedOut, copy: Buffer.from(handedOut) });
      return handedOut;
    },
  };
}

interface Recording {
  psk: Buffer;
  frames: ProxyFrame[]; // wire order, both directions
  m1: Buffer;
  m2: Buffer;
  m3: Buffer;
  kioskRecords: Buffer[]; // record bodies, kiosk → bank, in seq order
  bankRecords: Buffer[]; // record bodies, bank → kiosk, in seq order
  kioskDraws: Draw[];
  bankDraws: Draw[];
}

let bank: TestBank | undefined;
let proxy: Proxy | undefined;
let recording: Recording;

const body = (frame: ProxyFrame): Buffer => frame.bytes.subarray(FRAME_HEADER_BYTES);

before(async () => {
  const clock = new FakeClock();
  const bankRandom = recordingRandom();
  bank = await startTestBank({ nowMs: clock.nowMs, randomBytes: bankRandom.randomBytes });
  const registered = await bank.loginAs(USERNAME);
  registered.close();
  proxy = await startProxy(bank.host.port);
  const bankDrawsBefore = bankRandom.draws.length;
  const kioskRandom = recordingRandom();
  const connection = await BankConnection.connect({
    host: '127.0.0.1',
    port: proxy.port,
    kioskId: bank.kiosk.kioskId,
    psk: bank.kiosk.psk,
    nowMs: clock.nowMs,
    randomBytes: kioskRandom.randomBytes,
  });
  const link = proxy.links.at(-1);
  assert.ok(link !== undefined);
  assert.equal((await connection.request({ op: 'login', username: USERNAME, password: TEST_PASSWORD })).ok, true);
  const deposit = await connection.request({ op: 'deposit', ...DEPOSIT });
  assert.ok(deposit.ok && deposit.balanceCents === DEPOSIT.amountCents, 'the recorded deposit went through');
  connection.close();
  await link.bankClosed;
  const toBank = link.framesOf('toBank').map(body);
  const toKiosk = link.framesOf('toKiosk').map(body);
  const [m1, m3] = [toBank[0], toBank[1]];
  const m2 = toKiosk[0];
  assert.ok(m1 !== undefined && m2 !== undefined && m3 !== undefined);
  assert.equal(m1.length, M1.bytes);
  assert.equal(m2.length, M2.bytes);
  recording = {
    psk: Buffer.from(bank.kiosk.psk), // the attacker's later prize
    frames: [...link.recorded],
    m1,
    m2,
    m3,
    kioskRecords: toBank.slice(2), // login, deposit, close
    bankRecords: toKiosk.slice(1), // login response, deposit response
    kioskDraws: kioskRandom.draws,
    bankDraws: bankRandom.draws.slice(bankDrawsBefore),
  };
  assert.equal(recording.kioskRecords.length, 3);
  assert.equal(recording.bankRecords.length, 2);
});

after(async () => {
  await proxy?.close();
  await bank?.cleanup();
});

interface Schedule {
  kioskToHost: DirectionKeys;
  hostToKiosk: DirectionKeys;
}

/** th2 = SHA-256(LABEL | m1 | m2 without fin_h): public, computed once. */
let th2Cache: Buffer | undefined;
function th2(): Buffer {
  th2Cache ??= sha256(LABEL, recording.m1, recording.m2.subarray(0, M2.fin));
  return th2Cache;
}

function expand(masterSecret: Buffer, label: string): Buffer {
  return hkdfExpand(masterSecret, Buffer.concat([Buffer.from(label, 'ascii'), th2()]), 32);
}

/** HANDSHAKE.md §2.3 from a candidate master secret: everything else comes off the wire. */
function scheduleFromMasterSecret(masterSecret: Buffer): Schedule {
  return {
    kioskToHost: { encKey: expand(masterSecret, 'atm2 k2h enc'), macKey: expand(masterSecret, 'atm2 k2h mac') },
    hostToKiosk: { encKey: expand(masterSecret, 'atm2 h2k enc'), macKey: expand(masterSecret, 'atm2 h2k mac') },
  };
}

function pskPrk(psk: Buffer): Buffer {
  return hkdfExtract(sha256(LABEL), psk);
}

/** MS = HKDF-Extract(psk_prk, dh). */
let pskPrkCache: Buffer | undefined;
function scheduleFromDh(dh: Buffer): Schedule {
  pskPrkCache ??= pskPrk(recording.psk);
  return scheduleFromMasterSecret(hkdfExtract(pskPrkCache, dh));
}

/** A 32-byte string used directly as every key, in case a key were ever sent in clear. */
function scheduleFromRawKey(key: Buffer): Schedule {
  return { kioskToHost: { encKey: key, macKey: key }, hostToKiosk: { encKey: key, macKey: key } };
}

/** [ATM-3] tag = HMAC(mac key, "atm2 rec" | dir | seq | len | ver | type | ct), at any seq. */
function tagMatches(macKey: Buffer, direction: number, sequence: number, recordBody: Buffer): boolean {
  const seq = Buffer.alloc(8);
  seq.writeBigUInt64BE(BigInt(sequence));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(recordBody.length);
  const tagStart = recordBody.length - RECORD_TAG_BYTES;
  const expected = hmacSha256(
    macKey,
    REC_LABEL,
    Buffer.from([direction]),
    seq,
    length,
    recordBody.subarray(0, tagStart),
  );
  return crypto.timingSafeEqual(expected, recordBody.subarray(tagStart));
}

/**
 * Do these keys open a recorded record? The product's RecordOpener on the first record of
 * each direction (a session's keys open all of its records or none), and the spec's tag
 * on the deposit record itself (kiosk → bank, seq 1).
 */
function opensARecord(schedule: Schedule): boolean {
  const [firstSent, depositRecord] = recording.kioskRecords as [Buffer, Buffer];
  const firstAnswer = recording.bankRecords[0] as Buffer;
  return (
    new RecordOpener(schedule.kioskToHost, DIRECTION_KIOSK_TO_HOST).open(firstSent).ok ||
    tagMatches(schedule.kioskToHost.macKey, DIRECTION_KIOSK_TO_HOST, 1, depositRecord) ||
    new RecordOpener(schedule.hostToKiosk, DIRECTION_HOST_TO_KIOSK).open(firstAnswer).ok
  );
}

/** Every 32-byte string of the recorded byte stream, at every offset, frame borders included. */
function transcriptWindows(extra: Buffer = Buffer.alloc(0)): Buffer[] {
  const stream = Buffer.concat([...recording.frames.map((frame) => frame.bytes), extra]);
  return Array.from({ length: stream.length - 32 + 1 }, (_, offset) => stream.subarray(offset, offset + 32));
}

/**
 * An attacker with the PSK and the transcript: each 32-byte string as dh, as MS, as a raw key,
 * and as an X25519 private key against either public ephemeral. Returns what opened a record.
 */
function searchWindows(windows: Buffer[]): string | null {
  const publicKeys = [
    recording.m1.subarray(M1.ephemeral, M1.ephemeral + 32),
    recording.m2.subarray(M2.ephemeral, M2.ephemeral + 32),
  ].map((raw) =>
    crypto.createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' }),
  );
  for (const [offset, window] of windows.entries()) {
    const schedules = [scheduleFromDh(window), scheduleFromMasterSecret(window), scheduleFromRawKey(window)];
    // The window as Ec_priv or Es_priv: X25519 with each public ephemeral (one key import,
    // which is most of the cost, for both).
    const privateKey = crypto.createPrivateKey({
      key: Buffer.concat([X25519_PKCS8_PREFIX, window]),
      format: 'der',
      type: 'pkcs8',
    });
    for (const publicKey of publicKeys) schedules.push(scheduleFromDh(crypto.diffieHellman({ privateKey, publicKey })));
    if (schedules.some(opensARecord)) return `window at offset ${offset}`;
  }
  return null;
}

test('[ATM-2.3] (a) with the PSK, the transcript and the kiosk ephemeral private key, the recorded deposit decrypts', () => {
  const { psk, m1, m2, m3, kioskDraws } = recording;
  // kioskStart draws the ephemeral private key first, then Nc; check that against m1.
  assert.deepEqual(
    kioskDraws.map((draw) => draw.lengthBytes),
    [32, 32],
    'the kiosk drew two 32-byte values',
  );
  const [ephemeralDraw, nonceDraw] = kioskDraws as [Draw, Draw];
  const kioskPublic = m1.subarray(M1.ephemeral, M1.ephemeral + 32);
  assert.deepEqual(x25519KeyPairFromPrivate(ephemeralDraw.copy).publicKey, kioskPublic, 'draw 1 is Ec_priv');
  assert.deepEqual(nonceDraw.copy, m1.subarray(M1.nonce, M1.nonce + 32), 'draw 2 is Nc');

  const dh = x25519(ephemeralDraw.copy, m2.subarray(M2.ephemeral, M2.ephemeral + 32));
  assert.ok(dh !== null);
  const masterSecret = hkdfExtract(pskPrk(psk), dh);
  const schedule = scheduleFromMasterSecret(masterSecret);
  // The derivation is the real one: both Finished MACs on the wire check out.
  assert.deepEqual(hmacSha256(expand(masterSecret, 'atm2 host fin'), th2()), m2.subarray(M2.fin), 'fin_h');
  assert.deepEqual(hmacSha256(expand(masterSecret, 'atm2 kiosk fin'), sha256(LABEL, m1, m2)), m3.subarray(2), 'fin_k');

  const kioskOpener = new RecordOpener(schedule.kioskToHost, DIRECTION_KIOSK_TO_HOST);
  const sent = recording.kioskRecords.map((record) => kioskOpener.open(record));
  assert.ok(
    sent.every((result) => result.ok),
    'every kiosk record opens',
  );
  const [login, deposit] = sent
    .slice(0, 2)
    .map((result) => JSON.parse(result.plaintext.toString('utf8')) as Record<string, unknown>);
  assert.ok(login !== undefined && deposit !== undefined);
  assert.equal(login.op, 'login');
  assert.equal(login.password, TEST_PASSWORD, 'the password is in the recording: all the more reason for (b)');
  assert.deepEqual(
    { op: deposit.op, txnId: deposit.txnId, amountCents: deposit.amountCents },
    { op: 'deposit', ...DEPOSIT },
  );

  const bankOpener = new RecordOpener(schedule.hostToKiosk, DIRECTION_HOST_TO_KIOSK);
  const answers = recording.bankRecords.map((record) => bankOpener.open(record));
  assert.ok(
    answers.every((result) => result.ok),
    'every bank record opens',
  );
  const depositAnswer = answers[1];
  assert.ok(depositAnswer?.ok);
  const depositReply = JSON.parse(depositAnswer.plaintext.toString('utf8')) as { balanceCents: number };
  assert.equal(depositReply.balanceCents, DEPOSIT.amountCents);

  // The checker used in (b) recognises the real keys, so its "no" there is a real no.
  assert.equal(opensARecord(schedule), true);
});

test('[ATM-2.3] (b) with the PSK and the transcript alone, no derivation opens any recorded record', () => {
  const { psk, m1, m2, m3 } = recording;
  const kioskPublic = m1.subarray(M1.ephemeral, M1.ephemeral + 32);
  const bankPublic = m2.subarray(M2.ephemeral, M2.ephemeral + 32);
  const kioskNonce = m1.subarray(M1.nonce, M1.nonce + 32);
  const bankNonce = m2.subarray(M2.nonce, M2.nonce + 32);
  const prk = pskPrk(psk);
  const helloKey = hkdfExpand(prk, Buffer.from('atm2 hello', 'ascii'), 32);
  // dh replaced by what an attacker has: zeros, the public ephemerals, nonces, keys, MACs.
  const dhGuesses: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['zeros', Buffer.alloc(32)],
    ['Ec_pub', kioskPublic],
    ['Es_pub', bankPublic],
    ['Ec_pub|Es_pub', Buffer.concat([kioskPublic, bankPublic])],
    ['Es_pub|Ec_pub', Buffer.concat([bankPublic, kioskPublic])],
    ['Nc|Ns', Buffer.concat([kioskNonce, bankNonce])],
    ['PSK', psk],
    ['psk_prk', prk],
    ['k_hello', helloKey],
    ['mac1', m1.subarray(M1.mac)],
    ['fin_h', m2.subarray(M2.fin)],
    ['fin_k', m3.subarray(2)],
  ];
  for (const [name, guess] of dhGuesses) {
    const schedules = [
      scheduleFromDh(guess), // guess as dh
      scheduleFromMasterSecret(hkdfExtract(Buffer.alloc(0), guess)), // as dh, with no PSK in MS
    ];
    if (guess.length === 32) schedules.push(scheduleFromMasterSecret(guess), scheduleFromRawKey(guess)); // as MS, as a key
    assert.equal(schedules.some(opensARecord), false, `dh := ${name}`);
  }

  // The seed's design: MS travelled encrypted under the PSK. Decrypt every 32-byte string of
  // the transcript under the PSK (AES-256 ECB, CBC and CTR with a zero IV) and try each result
  // as MS and as dh.
  const decryptions = ['aes-256-ecb', 'aes-256-cbc', 'aes-256-ctr'].map((cipher) => (window: Buffer): Buffer => {
    const decipher = crypto
      .createDecipheriv(cipher, psk, cipher === 'aes-256-ecb' ? null : Buffer.alloc(16))
      .setAutoPadding(false);
    return Buffer.concat([decipher.update(window), decipher.final()]);
  });
  for (const [offset, window] of transcriptWindows().entries()) {
    for (const decrypt of decryptions) {
      const candidate = decrypt(window);
      const opened = opensARecord(scheduleFromMasterSecret(candidate)) || opensARecord(scheduleFromDh(candidate));
      assert.equal(opened, false, `seed-style MS from the window at offset ${offset}`);
    }
  }

  // Every 32-byte string of the transcript, every way round.
  assert.equal(searchWindows(transcriptWindows()), null);
});

test('[ATM-2.3] (b) self-check: had the ephemeral private key been in the transcript, the search finds it', () => {
  // Guards (b) against passing for a broken search: append Ec_priv to the stream it scans.
  const [ephemeralDraw] = recording.kioskDraws;
  assert.ok(ephemeralDraw !== undefined);
  const windows = transcriptWindows(ephemeralDraw.copy);
  assert.equal(searchWindows(windows), `window at offset ${windows.length - 1}`);
});

// What JS can wipe is its own buffers: the drawn bytes and the copies the handshake keeps.
// node's KeyObjects hold a copy inside OpenSSL until they are collected, out of reach here.
test('[ATM-2.4] the ephemeral private keys are wiped after the handshake, on the kiosk and on the bank', () => {
  const [ephemeralDraw] = recording.kioskDraws;
  assert.ok(ephemeralDraw !== undefined);
  assert.ok(
    ephemeralDraw.copy.some((byte) => byte !== 0),
    'the drawn key was not zero to begin with',
  );
  assert.ok(
    ephemeralDraw.handedOut.every((byte) => byte === 0),
    'the kiosk wiped Ec_priv',
  );
  // The bank drew Es_priv then Ns for this session (16-byte draws are audit IVs); find Es_priv
  // by its public key in m2.
  const bankPublic = recording.m2.subarray(M2.ephemeral, M2.ephemeral + 32);
  const bankEphemeral = recording.bankDraws.find(
    (draw) => draw.lengthBytes === 32 && x25519KeyPairFromPrivate(draw.copy).publicKey.equals(bankPublic),
  );
  assert.ok(bankEphemeral !== undefined, "the bank's Es_priv came from its injected randomBytes");
  assert.ok(
    bankEphemeral.handedOut.every((byte) => byte === 0),
    'the bank wiped Es_priv',
  );
});
