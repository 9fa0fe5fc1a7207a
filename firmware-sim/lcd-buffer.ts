// The simulated device's character LCD: rows × columns of characters and a backlight [SL-3.3].
export class LcdBuffer {
  private text: string[][] = [];
  backlightOn = true;

  constructor(
    readonly rows: number,
    readonly columns: number,
  ) {
    this.clear();
  }

  /** The glass now: `rows` strings of `columns` characters. */
  lines(): string[] {
    return this.text.map((row) => row.join(''));
  }

  /** Characters from (row, col) on; what falls outside the glass is dropped. */
  write(row: number, col: number, text: string): void {
    const cells = this.text[row];
    if (cells === undefined) return;
    for (let index = 0; index < text.length && col + index < this.columns; index += 1)
      cells[col + index] = text[index] as string;
  }

  clear(): void {
    this.text = Array.from({ length: this.rows }, () => new Array<string>(this.columns).fill(' '));
  }
}
