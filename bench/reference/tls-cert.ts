// A throw-away ECDSA P-256 certificate for the TLS reference, made at run time with the openssl
// CLI (never committed): key.pem (mode 0600) and cert.pem in a dir the caller removes.
import fs from 'node:fs';
import path from 'node:path';
import { run } from './process.js';

export const REFERENCE_SERVERNAME = 'atm-bench-reference';

export interface ReferenceCertificate {
  keyPath: string;
  certPath: string;
  /** The certificate (PEM): the client's only CA. */
  cert: string;
  servername: string;
}

/** Makes key.pem and cert.pem in `dir` (which should be 0700, as mkdtemp makes it). */
export async function makeCertificate(dir: string, signal: AbortSignal): Promise<ReferenceCertificate> {
  const keyPath = path.join(dir, 'key.pem');
  const certPath = path.join(dir, 'cert.pem');
  // The key file is created 0600 before openssl writes it, so it is never readable by others.
  fs.writeFileSync(keyPath, '', { mode: 0o600 });
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  args.push('-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', `/CN=${REFERENCE_SERVERNAME}`);
  args.push('-addext', `subjectAltName=DNS:${REFERENCE_SERVERNAME}`);
  try {
    await run('openssl', args, { timeoutMs: 30_000, signal });
  } catch (error) {
    throw new Error(`could not make the reference certificate (is openssl installed?): ${(error as Error).message}`);
  }
  fs.chmodSync(keyPath, 0o600);
  return { keyPath, certPath, cert: fs.readFileSync(certPath, 'utf8'), servername: REFERENCE_SERVERNAME };
}
