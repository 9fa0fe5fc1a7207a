// The TLS reference's server, the entry of a child process (tls.ts forks it): a TLS 1.3 echo
// server on 127.0.0.1, an ephemeral port, with the key and certificate whose paths are its two
// arguments. It reports its port to the parent by IPC ({ kind: 'listening', port }) and exits
// when the parent disconnects (or dies). Session tickets are off: every handshake is a full one.
import { constants } from 'node:crypto';
import fs from 'node:fs';
import tls from 'node:tls';
import { TLS13, type ServerListening } from './tls-messages.js';

const [keyPath, certPath] = process.argv.slice(2);
const send = process.send?.bind(process);
if (keyPath === undefined || certPath === undefined || send === undefined) {
  process.stderr.write('tls-echo-server: fork me with <key.pem> <cert.pem> and an IPC channel\n');
  process.exit(2);
}

const server = tls.createServer(
  {
    key: fs.readFileSync(keyPath),
    cert: fs.readFileSync(certPath),
    ...TLS13,
    secureOptions: constants.SSL_OP_NO_TICKET,
  },
  (socket) => {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => socket.write(chunk));
    socket.on('error', () => socket.destroy());
  },
);
// A client that goes away mid-handshake is the client's problem, not the server's.
server.on('tlsClientError', () => undefined);
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') process.exit(3);
  const listening: ServerListening = { kind: 'listening', port: address.port };
  send(listening);
});
process.on('disconnect', () => process.exit(0));
