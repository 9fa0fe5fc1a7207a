// [ATM-2] The ATMv2 handshake (HANDSHAKE.md §2, TLS 1.3 psk_dhe_ke reduced to three fixed-size
// messages) as pure functions: bytes, time and randomness in; bytes, keys or a reason out.
// No sockets, clocks or Math.random here: the adapter in channel.ts owns those.
import { assert } from './assert.js';
import type { SessionCloseReason } from './errors.js';
import {
  constantTimeEqual,
  hkdfExpand,
  hkdfExtract,
  hmacSha256,
  sha256,
  wipe,
  x25519,
  x25519KeyPairFromPrivate,
  type RandomBytes,
} from './crypto.js';

export const PROTOCOL_VERSION = 0x02;
export const LABEL = Buffer.from('ATMv2 X25519 HKDF-SHA256 AES-256-CTR HMAC-SHA256', 'ascii');
export const MSG_TYPE_M1 = 0x01;
export const MSG_TYPE_M2 = 0x02;
export const MSG_TYPE_M3 = 0x03;
export const KID_BYTES = 16;
export const NONCE_BYTES = 32;
export const M1_BYTES = 2 + KID_BYTES + 8 + NONCE_BYTES + 32 + 32; // 122
export const M2_BYTES = 2 + NONCE_BYTES + 32 + 32; // 98
export const M3_BYTES = 2 + 32; // 34
export const PSK_BYTES = 32;
export const HELLO_TIMESTAMP_SKEW_MS = 30_000; // [ATM-2.4.4]

const KIOSK_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,15}$/;

/** Kiosk ids travel as 16 bytes: the ASCII id, zero padded. */
export function isValidKioskId(kioskId: string): boolean {
  return KIOSK_ID_PATTERN.test(kioskId);
}

export function encodeKioskId(kioskId: string): Buffer {
  assert(isValidKioskId(kioskId), `invalid kiosk id ${JSON.stringify(kioskId)}`);
  const kid = Buffer.alloc(KID_BYTES);
  kid.write(kioskId, 'ascii');
  return kid;
}

/** Returns null for bytes that no valid id encodes (so they are treated as an unknown kiosk). */
export function decodeKioskId(kid: Uint8Array): string | null {
  const end = kid.indexOf(0);
  const text = Buffer.from(kid.subarray(0, end === -1 ? kid.length : end)).toString('latin1');
  if (end !== -1 && kid.subarray(end).some((byte) => byte !== 0)) return null;
  return isValidKioskId(text) ? text : null;
}

/** [ATM-2.1] psk_prk = HKDF-Extract(SHA-256(LABEL), PSK); the raw PSK never keys AES or HMAC. */
export function pskPrk(psk: Uint8Array): Buffer {
  return hkdfExtract(sha256(LABEL), psk);
}

export function helloKey(psk: Uint8Array): Buffer {
  return hkdfExpand(pskPrk(psk), Buffer.from('atm2 hello'), 32);
}

export interface DirectionKeys {
  encKey: Buffer;
  macKey: Buffer;
}

export interface SessionKeys {
  kioskToHost: DirectionKeys;
  hostToKiosk: DirectionKeys;
  /** SHA-256 of the whole handshake; a public session identifier (logged shortened). */
  transcriptHash: Buffer;
}

interface Schedule {
  keys: SessionKeys;
  finHostKey: Buffer;
  finKioskKey: Buffer;
  th2: Buffer;
}

/** [ATM-2.3] Key schedule. MS needs both the PSK and the ephemeral DH secret. */
function keySchedule(psk: Uint8Array, dh: Buffer, m1: Uint8Array, m2WithoutFin: Uint8Array): Schedule {
  const prk = pskPrk(psk);
  const masterSecret = hkdfExtract(prk, dh);
  const th2 = sha256(LABEL, m1, m2WithoutFin);
  const expand = (label: string): Buffer => hkdfExpand(masterSecret, Buffer.concat([Buffer.from(label), th2]), 32);
  const schedule: Schedule = {
    keys: {
      kioskToHost: { encKey: expand('atm2 k2h enc'), macKey: expand('atm2 k2h mac') },
      hostToKiosk: { encKey: expand('atm2 h2k enc'), macKey: expand('atm2 h2k mac') },
      transcriptHash: th2,
    },
    finHostKey: expand('atm2 host fin'),
    finKioskKey: expand('atm2 kiosk fin'),
    th2,
  };
  wipe(prk, masterSecret);
  return schedule;
}

// ---------------------------------------------------------------- kiosk side

export interface KioskHelloState {
  psk: Buffer;
  m1: Buffer;
  ephemeralPrivate: Buffer;
}

export interface KioskHelloInput {
  kioskId: string;
  psk: Uint8Array;
  nowMs: number;
  randomBytes: RandomBytes;
}

/** [ATM-2.2] m1 = ver | type | kid | ts_ms | Nc | Ec_pub | mac1. */
export function kioskStart(input: KioskHelloInput): { m1: Buffer; state: KioskHelloState } {
  assert(input.psk.length === PSK_BYTES, 'PSK must be 32 bytes');
  // The key pair keeps its own copy (wiped after m2); the drawn bytes are wiped at once.
  const ephemeralDrawn = input.randomBytes(32);
  const ephemeral = x25519KeyPairFromPrivate(ephemeralDrawn);
  wipe(ephemeralDrawn);
  const timestamp = Buffer.alloc(8);
  timestamp.writeBigUInt64BE(BigInt(Math.floor(input.nowMs)));
  const body = Buffer.concat([
    Buffer.from([PROTOCOL_VERSION, MSG_TYPE_M1]),
    encodeKioskId(input.kioskId),
    timestamp,
    input.randomBytes(NONCE_BYTES),
    ephemeral.publicKey,
  ]);
  const m1 = Buffer.concat([body, hmacSha256(helloKey(input.psk), LABEL, body)]);
  assert(m1.length === M1_BYTES, 'm1 size');
  return { m1, state: { psk: Buffer.from(input.psk), m1, ephemeralPrivate: ephemeral.privateKey } };
}

export type KioskFinishResult = { ok: true; m3: Buffer; keys: SessionKeys } | { ok: false; reason: string };

/** [ATM-2.4 kiosk] Verify the host's Finished, answer with ours, wipe the ephemeral secret. */
export function kioskFinish(state: KioskHelloState, m2: Uint8Array): KioskFinishResult {
  try {
    if (m2.length !== M2_BYTES) return { ok: false, reason: `m2 length ${m2.length}` };
    if (m2[0] !== PROTOCOL_VERSION || m2[1] !== MSG_TYPE_M2) return { ok: false, reason: 'm2 version/type' };
    const hostPublic = m2.subarray(2 + NONCE_BYTES, 2 + NONCE_BYTES + 32);
    const dh = x25519(state.ephemeralPrivate, hostPublic);
    if (dh === null) return { ok: false, reason: 'm2 ephemeral key unusable (low order)' };
    const m2WithoutFin = m2.subarray(0, M2_BYTES - 32);
    const schedule = keySchedule(state.psk, dh, state.m1, m2WithoutFin);
    wipe(dh);
    if (!constantTimeEqual(hmacSha256(schedule.finHostKey, schedule.th2), m2.subarray(M2_BYTES - 32))) {
      wipe(
        schedule.finHostKey,
        schedule.finKioskKey,
        schedule.keys.kioskToHost.encKey,
        schedule.keys.kioskToHost.macKey,
        schedule.keys.hostToKiosk.encKey,
        schedule.keys.hostToKiosk.macKey,
      );
      return { ok: false, reason: 'm2 Finished MAC' };
    }
    const th3 = sha256(LABEL, state.m1, m2);
    const m3 = Buffer.concat([Buffer.from([PROTOCOL_VERSION, MSG_TYPE_M3]), hmacSha256(schedule.finKioskKey, th3)]);
    wipe(schedule.finHostKey, schedule.finKioskKey);
    return { ok: true, m3, keys: schedule.keys };
  } finally {
    wipe(state.ephemeralPrivate, state.psk);
  }
}

// ---------------------------------------------------------------- host side

export interface ParsedHello {
  kioskId: string | null; // null: bytes that no valid id encodes
  timestampMs: number;
  kioskNonce: Buffer;
  kioskPublic: Buffer;
}

/** [ATM-2.4.4] A valid MAC with a stale clock is told apart from every other m1 failure. */
export type HelloFailureReason = Extract<SessionCloseReason, 'HANDSHAKE' | 'STALE_TIMESTAMP'>;
export type HelloCheck =
  | { ok: true; hello: ParsedHello }
  | { ok: false; closeReason: HelloFailureReason; reason: string; kioskId: string | null };

/**
 * [ATM-2.4 host, steps 1-4] Cheapest checks first. lookupPsk returns null for an unknown or
 * revoked kiosk; we then MAC with a dummy key so the work and the answer (silence) match a bad MAC.
 */
export function hostCheckHello(
  m1: Uint8Array,
  lookupPsk: (kioskId: string) => Buffer | null,
  dummyPsk: Uint8Array,
  nowMs: number,
): HelloCheck {
  if (m1.length !== M1_BYTES)
    return { ok: false, closeReason: 'HANDSHAKE', reason: `m1 length ${m1.length}`, kioskId: null };
  if (m1[0] !== PROTOCOL_VERSION || m1[1] !== MSG_TYPE_M1)
    return { ok: false, closeReason: 'HANDSHAKE', reason: 'm1 version/type', kioskId: null };
  const kioskId = decodeKioskId(m1.subarray(2, 2 + KID_BYTES));
  const psk = (kioskId === null ? null : lookupPsk(kioskId)) ?? dummyPsk;
  const body = m1.subarray(0, M1_BYTES - 32);
  const macOk = constantTimeEqual(hmacSha256(helloKey(psk), LABEL, body), m1.subarray(M1_BYTES - 32));
  if (!macOk || psk === dummyPsk)
    return { ok: false, closeReason: 'HANDSHAKE', reason: 'm1 MAC or unknown kiosk', kioskId };
  const timestampMs = Number(Buffer.from(m1.subarray(2 + KID_BYTES, 2 + KID_BYTES + 8)).readBigUInt64BE(0));
  if (Math.abs(nowMs - timestampMs) > HELLO_TIMESTAMP_SKEW_MS) {
    return {
      ok: false,
      closeReason: 'STALE_TIMESTAMP',
      reason: `m1 timestamp off by ${nowMs - timestampMs} ms`,
      kioskId,
    };
  }
  const nonceStart = 2 + KID_BYTES + 8;
  return {
    ok: true,
    hello: {
      kioskId,
      timestampMs,
      kioskNonce: Buffer.from(m1.subarray(nonceStart, nonceStart + NONCE_BYTES)),
      kioskPublic: Buffer.from(m1.subarray(nonceStart + NONCE_BYTES, nonceStart + NONCE_BYTES + 32)),
    },
  };
}

export interface HostPendingState {
  keys: SessionKeys;
  finKioskKey: Buffer;
  th3: Buffer;
}

export type HostRespondResult = { ok: true; m2: Buffer; pending: HostPendingState } | { ok: false; reason: string };

/** [ATM-2.4 host, step 6] Only after every cheap check: ephemeral key, DH, keys, m2. */
export function hostRespond(
  m1: Uint8Array,
  hello: ParsedHello,
  psk: Uint8Array,
  randomBytes: RandomBytes,
): HostRespondResult {
  const ephemeralDrawn = randomBytes(32);
  const ephemeral = x25519KeyPairFromPrivate(ephemeralDrawn);
  const dh = x25519(ephemeral.privateKey, hello.kioskPublic);
  wipe(ephemeralDrawn, ephemeral.privateKey);
  if (dh === null) return { ok: false, reason: 'm1 ephemeral key unusable (low order)' };
  const m2WithoutFin = Buffer.concat([
    Buffer.from([PROTOCOL_VERSION, MSG_TYPE_M2]),
    randomBytes(NONCE_BYTES),
    ephemeral.publicKey,
  ]);
  const schedule = keySchedule(psk, dh, m1, m2WithoutFin);
  wipe(dh);
  const m2 = Buffer.concat([m2WithoutFin, hmacSha256(schedule.finHostKey, schedule.th2)]);
  wipe(schedule.finHostKey);
  return {
    ok: true,
    m2,
    pending: { keys: schedule.keys, finKioskKey: schedule.finKioskKey, th3: sha256(LABEL, m1, m2) },
  };
}

export type HostFinishResult = { ok: true; keys: SessionKeys } | { ok: false; reason: string };

/** [ATM-2.4 host, m3] The session opens only when the kiosk proves it derived the same keys. */
export function hostFinish(pending: HostPendingState, m3: Uint8Array): HostFinishResult {
  try {
    if (m3.length !== M3_BYTES) return { ok: false, reason: `m3 length ${m3.length}` };
    if (m3[0] !== PROTOCOL_VERSION || m3[1] !== MSG_TYPE_M3) return { ok: false, reason: 'm3 version/type' };
    if (!constantTimeEqual(hmacSha256(pending.finKioskKey, pending.th3), m3.subarray(2))) {
      return { ok: false, reason: 'm3 Finished MAC' };
    }
    return { ok: true, keys: pending.keys };
  } finally {
    wipe(pending.finKioskKey);
  }
}
