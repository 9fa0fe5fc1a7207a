// The one MQTT packet the bank's telemetry client encodes itself: a QoS 0 PUBLISH.
//
// Why: under load the telemetry thread spent ~25 µs of user time per message, most of it in
// mqtt.js's generic publish path (option handling, debug calls, a packet object, a chunked
// corked write per packet); this is one buffer per message, written per batch (BENCHMARKS.md).
// A QoS 0 PUBLISH has no packet id and no acknowledgement, so writing complete packets onto the
// client's connected stream between its own packets is safe (each write is whole, in order);
// mqtt.js keeps the connection, CONNECT/last will, keepalive and reconnects.
//
// MQTT 3.1.1 §3.3 and 5.0 §3.3: fixed header (0x30 | retain), remaining length as a varint,
// topic as a 2-byte length and UTF-8, then (5.0 only) a property length of 0, then the payload.
import { AtmError, type CodeOf } from '../protocol/index.js';

/** The largest remaining length a varint of four bytes can express (MQTT §1.5.5 / §2.2.3). */
export const MQTT_REMAINING_LENGTH_MAX = 268_435_455;
const TOPIC_BYTES_MAX = 0xffff;
const PUBLISH_QOS0 = 0x30;
const RETAIN_FLAG = 0x01;

/** The stable code of every refusal below (the caller counts the message as dropped). */
export const MQTT_ENCODE_ERROR = 'MQTT_ENCODE' satisfies CodeOf<'telemetry'>;

function refuse(message: string): AtmError {
  return new AtmError(MQTT_ENCODE_ERROR, message);
}

function varintBytes(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  return 4;
}

/** Throws an AtmError (MQTT_ENCODE_ERROR) for an empty or oversized topic, a wildcard or NUL in it, or a packet too large for MQTT. */
export function encodeQos0Publish(topic: string, payload: string, retain: boolean, protocolVersion: 4 | 5): Buffer {
  const topicBytes = Buffer.byteLength(topic, 'utf8');
  if (topicBytes === 0 || topicBytes > TOPIC_BYTES_MAX)
    throw refuse(`topic length ${topicBytes} bytes is outside 1–${TOPIC_BYTES_MAX}`);
  if (/[+#\u0000]/.test(topic)) throw refuse('a topic to publish to holds no wildcard and no NUL');
  const payloadBytes = Buffer.byteLength(payload, 'utf8');
  const propertiesBytes = protocolVersion === 5 ? 1 : 0;
  const remaining = 2 + topicBytes + propertiesBytes + payloadBytes;
  if (remaining > MQTT_REMAINING_LENGTH_MAX)
    throw refuse(`packet of ${remaining} bytes exceeds MQTT's ${MQTT_REMAINING_LENGTH_MAX}`);
  const packet = Buffer.allocUnsafe(1 + varintBytes(remaining) + remaining);
  let offset = 0;
  packet[offset++] = PUBLISH_QOS0 | (retain ? RETAIN_FLAG : 0);
  for (let rest = remaining; ;) {
    const digit = rest % 0x80;
    rest = Math.floor(rest / 0x80);
    packet[offset++] = rest > 0 ? digit | 0x80 : digit;
    if (rest === 0) break;
  }
  offset = packet.writeUInt16BE(topicBytes, offset);
  offset += packet.write(topic, offset, 'utf8');
  if (protocolVersion === 5) packet[offset++] = 0; // no properties
  offset += packet.write(payload, offset, 'utf8');
  if (offset !== packet.length) throw refuse('internal: encoded length mismatch');
  return packet;
}
