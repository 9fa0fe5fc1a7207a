// --store (or ATM_STORE): where the ledger is. Absent means the embedded LevelDB in --data; a
// postgres:// or postgresql:// URL means the shared PostgreSQL ledger. Anything else is a usage error.
import { isPostgresUrl } from '../bank/index.js';
import { UsageError, type Parsed } from './cli.js';

export function storeUrl(values: Parsed['values'], usage: string, required: true): string;
export function storeUrl(values: Parsed['values'], usage: string, required?: false): string | undefined;
export function storeUrl(values: Parsed['values'], usage: string, required = false): string | undefined {
  const value = values.store;
  if (value === undefined || value === '') {
    if (required) throw new UsageError(`--store is required (or ATM_STORE)\n${usage}`);
    return undefined;
  }
  if (typeof value !== 'string' || !isPostgresUrl(value))
    throw new UsageError(`--store takes a postgres://USER@HOST:PORT/DATABASE URL\n${usage}`);
  return value;
}
