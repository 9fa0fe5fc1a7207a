// A busy bank logs a line per request: thousands a second. One write per line was a tenth of
// its CPU (issue 14), so lines are gathered and written once per event-loop turn, in order,
// or at once past a size bound. Whatever is still gathered when the process exits (a normal
// stop, an assertion exit) is written synchronously first: no line is lost to the batching.
/** Gathered text is written at once beyond this many bytes. */
export const LINE_BATCH_BYTES_MAX = 64 * 1024;

export class BatchedLines {
  private parts: string[] = [];
  private bytes = 0;
  private scheduled = false;

  constructor(private readonly stream: NodeJS.WritableStream) {
    process.on('exit', () => this.flush());
  }

  write(text: string): void {
    this.parts.push(text);
    this.bytes += text.length;
    if (this.bytes >= LINE_BATCH_BYTES_MAX) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes what is gathered; stdout to a file, pipe or terminal is synchronous on Linux, so it is out. */
  flush(): void {
    this.scheduled = false;
    if (this.parts.length === 0) return;
    const text = this.parts.join('');
    this.parts = [];
    this.bytes = 0;
    this.stream.write(text);
  }
}
