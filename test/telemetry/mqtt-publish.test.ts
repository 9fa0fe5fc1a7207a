// telemetry/mqtt-publish.ts against mqtt-packet (the encoder and parser mqtt.js and aedes use) as the
// reference: byte-for-byte the same packet for MQTT 3.1.1 and 5.0, retain on and off, UTF-8
// topics and payloads, and payload sizes at each boundary of the remaining-length varint; then
// a round trip through the reference parser, and the refusals.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqttPacket from 'mqtt-packet';
import { encodeQos0Publish, MQTT_ENCODE_ERROR, MQTT_REMAINING_LENGTH_MAX } from '../../telemetry/mqtt-publish.js';

function reference(topic: string, payload: string, retain: boolean, protocolVersion: 4 | 5): Buffer {
  return mqttPacket.generate(
    {
      cmd: 'publish',
      topic,
      payload: Buffer.from(payload, 'utf8'),
      qos: 0,
      retain,
      dup: false,
      ...(protocolVersion === 5 ? { properties: {} } : {}),
    },
    { protocolVersion },
  );
}

function parse(packet: Buffer, protocolVersion: 4 | 5): mqttPacket.IPublishPacket {
  const parser = mqttPacket.parser({ protocolVersion });
  const parsed: mqttPacket.Packet[] = [];
  parser.on('packet', (p) => parsed.push(p));
  parser.on('error', (error: Error) => assert.fail(error));
  parser.parse(packet);
  assert.equal(parsed.length, 1);
  return parsed[0] as mqttPacket.IPublishPacket;
}

const topic = 'atm/v1/events/deposit';
// Remaining length = 2 + topic + (1 in 5.0) + payload; these payloads put it on each side of
// the varint's 1/2, 2/3 and 3/4-byte boundaries (127/128, 16383/16384, 2097151/2097152).
const boundaries = [127, 128, 16_383, 16_384, 2_097_151, 2_097_152];

for (const protocolVersion of [4, 5] as const) {
  test(`MQTT ${protocolVersion === 4 ? '3.1.1' : '5.0'}: the same bytes as mqtt-packet, and its parser reads them back`, () => {
    const overhead = 2 + Buffer.byteLength(topic) + (protocolVersion === 5 ? 1 : 0);
    const payloads = [
      '',
      '{"v":1,"seq":7}',
      'kiosk ünïcödé ✓ 🏧',
      ...boundaries.map((remaining) => 'x'.repeat(remaining - overhead)),
    ];
    for (const payload of payloads) {
      for (const retain of [false, true]) {
        const ours = encodeQos0Publish(topic, payload, retain, protocolVersion);
        assert.deepEqual(
          ours,
          reference(topic, payload, retain, protocolVersion),
          `${payload.length} chars, retain ${retain}`,
        );
        const back = parse(ours, protocolVersion);
        assert.equal(back.topic, topic);
        assert.equal(back.retain, retain);
        assert.equal(back.qos, 0);
        assert.equal(back.payload.toString('utf8'), payload);
      }
    }
    const utf8Topic = 'atm/v1/kiosk/kïosk-✓/status';
    assert.deepEqual(
      encodeQos0Publish(utf8Topic, '{}', true, protocolVersion),
      reference(utf8Topic, '{}', true, protocolVersion),
    );
  });
}

test('the varint takes one more byte exactly at each boundary', () => {
  const overhead = 2 + Buffer.byteLength(topic);
  for (const [remaining, headerBytes] of [
    [127, 2],
    [128, 3],
    [16_383, 3],
    [16_384, 4],
    [2_097_151, 4],
    [2_097_152, 5],
  ] as const) {
    const packet = encodeQos0Publish(topic, 'x'.repeat(remaining - overhead), false, 4);
    assert.equal(packet.length, headerBytes + remaining, `remaining ${remaining}`);
  }
});

test('refused with a stable code: an empty, oversized, wildcard or NUL topic', () => {
  for (const bad of ['', 'a'.repeat(0x10000), 'atm/v1/+/status', 'atm/v1/#', 'atm/v1/\u0000']) {
    assert.throws(
      () => encodeQos0Publish(bad, '{}', false, 4),
      (error: unknown) => (error as { code?: string }).code === MQTT_ENCODE_ERROR,
      JSON.stringify(bad.slice(0, 20)),
    );
  }
  assert.equal(
    encodeQos0Publish('a'.repeat(0xffff), '', false, 4).length,
    1 + 3 + 2 + 0xffff,
    'the longest topic is accepted',
  );
  // One byte past the largest remaining length: refused before anything is allocated.
  const tooLong = 'x'.repeat(MQTT_REMAINING_LENGTH_MAX - 2 - 1 + 1);
  assert.throws(
    () => encodeQos0Publish('a', tooLong, false, 4),
    (error: unknown) => (error as { code?: string }).code === MQTT_ENCODE_ERROR,
  );
});
