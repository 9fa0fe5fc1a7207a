// The protocol component's public face: everything two parts of the system share — the
// session protocol (frames, handshake, records, channel, client), the messages, the device
// vocabulary, the serial line codec, the telemetry topics, the chained Fernet log and the
// MQTT client handle. It imports nothing of ours.
export * from './action.js';
export * from './amount.js';
export * from './assert.js';
export * from './backoff.js';
export * from './chain-log.js';
export * from './channel.js';
export * from './client.js';
export * from './crypto.js';
export * from './data-dir.js';
export * from './devices.js';
export * from './errors.js';
export * from './faults.js';
export * from './fernet.js';
export * from './frame.js';
export * from './handshake.js';
export * from './messages.js';
export * from './mqtt-client.js';
export * from './record.js';
export * from './responses.js';
export * from './serial-line.js';
export * from './statement.js';
export * from './telemetry.js';
export * from './username-mask.js';
