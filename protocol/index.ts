// The protocol component's public face: everything two parts of the system share on the wire.
export * from './amount.js';
export * from './errors.js';
export * from './messages.js';
export { BankConnection, ClientError, type ConnectOptions } from './client.js';
export { SecureChannel, DEFAULT_TIMEOUTS, type ChannelTimeouts } from './channel.js';
export { fernetKeyFormat, fernetKeyParse, fernetEncrypt, fernetDecrypt, type FernetKey } from './fernet.js';
export { isValidKioskId, PSK_BYTES } from './handshake.js';
export * from './serial-line.js';
export * from './telemetry.js';
