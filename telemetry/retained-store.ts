// The embedded broker's retained messages on disk, so a dashboard that connects after a bank
// restart still sees every kiosk's last status and the bank's (DESIGN §6). One JSON file in
// its own folder (DATA/mqtt/retained.json, apart from the ledger's LevelDB and its lock),
// rewritten whole, atomically (temp file, fsync, rename), at most once per flush interval and
// on close. Bounded in topics and bytes: past a bound a new topic stays retained in memory
// only, and is counted. We chose this over aedes-persistence-level because retained messages
// are the only state worth keeping (the bank publishes QoS 0; subscribers are operators).
import fs from 'node:fs';
import path from 'node:path';

export interface RetainedMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
}

export interface RetainedFileOptions {
  topicsMax: number;
  bytesMax: number;
  flushMs: number;
}

export const DEFAULT_RETAINED_FILE_OPTIONS: RetainedFileOptions = {
  topicsMax: 10_000,
  bytesMax: 8 * 1024 * 1024,
  flushMs: 1_000,
};
export const RETAINED_FILE_NAME = path.join('mqtt', 'retained.json');
const TOPIC_CHARS_MAX = 1_024;

interface Entry {
  payload: string;
  qos: 0 | 1 | 2;
}

export class RetainedFile {
  readonly options: RetainedFileOptions;
  /** Why the file on disk could not be read (the broker then starts with nothing retained). */
  loadError: string | null = null;
  refused = 0;
  writeErrors = 0;
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  private dirty = false;
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly file: string,
    options: Partial<RetainedFileOptions>,
  ) {
    this.options = { ...DEFAULT_RETAINED_FILE_OPTIONS, ...options };
  }

  static load(file: string, options: Partial<RetainedFileOptions> = {}): RetainedFile {
    const store = new RetainedFile(file, options);
    let text: string;
    try {
      if (fs.statSync(file).size > 2 * store.options.bytesMax) throw new Error('file larger than the bound');
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        store.loadError = error instanceof Error ? error.message : String(error);
      return store;
    }
    try {
      const parsed = JSON.parse(text) as { v?: unknown; messages?: unknown };
      if (parsed.v !== 1 || !Array.isArray(parsed.messages)) throw new Error('not a v1 retained file');
      for (const item of parsed.messages as unknown[]) {
        const { topic, payload, qos } = (item ?? {}) as Record<string, unknown>;
        if (typeof topic !== 'string' || typeof payload !== 'string' || (qos !== 0 && qos !== 1 && qos !== 2))
          throw new Error('malformed entry');
        store.put(topic, payload, qos);
      }
    } catch (error) {
      store.entries.clear();
      store.bytes = 0;
      store.loadError = error instanceof Error ? error.message : String(error);
    }
    return store;
  }

  list(): RetainedMessage[] {
    return [...this.entries].map(([topic, entry]) => ({
      topic,
      payload: Buffer.from(entry.payload, 'utf8'),
      qos: entry.qos,
    }));
  }

  /** What the broker retained (an empty payload deletes); written out within flushMs. */
  set(topic: string, payload: Buffer, qos: 0 | 1 | 2): void {
    // After close a write would recreate a data dir its owner may already have removed.
    if (this.closed) return;
    const text = payload.toString('utf8');
    // Our payloads are JSON text; anything that is not UTF-8 is not ours to keep.
    if (payload.length > 0 && !Buffer.from(text, 'utf8').equals(payload)) {
      this.refused += 1;
      return;
    }
    if (!this.put(topic, text, qos)) return;
    this.dirty = true;
    if (this.timer === null) {
      this.timer = setTimeout(() => void this.flush(), this.options.flushMs);
      this.timer.unref();
    }
  }

  /** Writes the current set if it changed; never rejects (a failed write is retried later). */
  flush(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.writing = this.writing.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      try {
        await this.write();
      } catch {
        this.writeErrors += 1;
        this.dirty = true;
      }
    });
    return this.writing;
  }

  /** The last flush; nothing is kept or written after it. */
  close(): Promise<void> {
    const last = this.flush();
    this.closed = true;
    return last;
  }

  private put(topic: string, payload: string, qos: 0 | 1 | 2): boolean {
    if (topic.startsWith('$') || topic.length === 0 || topic.length > TOPIC_CHARS_MAX) return false;
    const previous = this.entries.get(topic);
    const bytesAfter =
      this.bytes -
      (previous === undefined ? 0 : Buffer.byteLength(previous.payload) + topic.length) +
      (payload.length === 0 ? 0 : Buffer.byteLength(payload) + topic.length);
    if (payload.length === 0) {
      if (previous === undefined) return false;
      this.entries.delete(topic);
      this.bytes = bytesAfter;
      return true;
    }
    if ((previous === undefined && this.entries.size >= this.options.topicsMax) || bytesAfter > this.options.bytesMax) {
      this.refused += 1;
      return false;
    }
    this.entries.set(topic, { payload, qos });
    this.bytes = bytesAfter;
    return true;
  }

  private async write(): Promise<void> {
    const messages = [...this.entries].map(([topic, entry]) => ({ topic, qos: entry.qos, payload: entry.payload }));
    const body = `${JSON.stringify({ v: 1, messages })}\n`;
    const dir = path.dirname(this.file);
    await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
    const temp = `${this.file}.tmp`;
    const handle = await fs.promises.open(temp, 'w', 0o600);
    try {
      await handle.writeFile(body);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.promises.rename(temp, this.file);
    // The rename is durable only once the folder itself is synced.
    const dirHandle = await fs.promises.open(dir, 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  }
}
