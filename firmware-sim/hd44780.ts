// An HD44780 character-LCD controller as its pins see it: each falling edge of E latches RS,
// R/W and the data lines. It powers up in 8-bit mode; a function set with DL=0 switches it to
// 4-bit mode, where a byte takes two strobes (high nibble first) on D4–D7. It keeps the display
// data RAM (the character memory), the address counter, entry mode, display/cursor/blink
// flags and display shift. Shared by the I2C backpack (pcf8574-lcd.ts) and the parallel
// wiring (parallel-lcd.ts).
//
// Timing: instructions take their datasheet time (37 µs, 1.52 ms for clear and home) when
// the owner supplies a clock; a strobe while the controller is busy is dropped and counted in
// `writesWhileBusy`, which is how a real module loses characters written too fast.

const DDRAM_BYTES = 0x80;
const EXECUTE_US = 37;
const CLEAR_HOME_US = 1520;
/** DDRAM address of each row's first column on a 20×4 module (16×2 uses the first two). */
export const ROW_START_ADDRESSES = [0x00, 0x40, 0x14, 0x54] as const;

export interface Hd44780Options {
  columns?: number;
  rows?: number;
  /** Microseconds since power-up; without it every instruction completes at once. */
  nowUs?: () => number;
}

/** The A00 character ROM for what tests read back: ASCII except 0x5C (¥), 0x7E (→) and 0x7F (←). */
export function romCharacter(code: number): string {
  if (code < 0x08) return String.fromCharCode(0x2460 + code); // CGRAM characters 0–7 as ①…⑧
  if (code === 0x5c) return '¥';
  if (code === 0x7e) return '→';
  if (code === 0x7f) return '←';
  if (code >= 0x20 && code < 0x7e) return String.fromCharCode(code);
  return '?';
}

export class Hd44780 {
  readonly columns: number;
  readonly rows: number;
  readonly ddram = new Uint8Array(DDRAM_BYTES).fill(0x20);
  readonly cgram = new Uint8Array(64);
  private readonly nowUs: (() => number) | null;
  addressCounter = 0;
  private addressingCgram = false;
  private pendingHighNibble: number | null = null;
  private busyUntilUs = 0;
  fourBitMode = false;
  twoLines = false;
  entryIncrement = true;
  entryShift = false;
  displayOn = false;
  cursorOn = false;
  blinkOn = false;
  /** Added to a column's DDRAM address: +1 after each left shift of the display. */
  displayShift = 0;
  /** Instructions (RS=0) and data bytes (RS=1) executed, and strobes lost while busy. */
  commandCount = 0;
  dataCount = 0;
  writesWhileBusy = 0;

  constructor(options: Hd44780Options = {}) {
    this.columns = options.columns ?? 20;
    this.rows = options.rows ?? 4;
    this.nowUs = options.nowUs ?? null;
  }

  /**
   * One falling edge of E. `data` is D7–D0 as they are on the pins (in 4-bit wiring D3–D0 are
   * not connected: pass 0 there). Reads (R/W=1) move no data into the model.
   */
  strobe(rs: boolean, rw: boolean, data: number): void {
    if (rw) return;
    if (!this.fourBitMode) {
      this.execute(rs, data & 0xff);
      return;
    }
    const nibble = (data >> 4) & 0x0f;
    if (this.pendingHighNibble === null) {
      this.pendingHighNibble = nibble;
      return;
    }
    const byte = (this.pendingHighNibble << 4) | nibble;
    this.pendingHighNibble = null;
    this.execute(rs, byte);
  }

  private execute(rs: boolean, byte: number): void {
    const now = this.nowUs?.() ?? null;
    if (now !== null && now < this.busyUntilUs) {
      this.writesWhileBusy += 1;
      return;
    }
    if (rs) this.writeData(byte);
    else this.instruction(byte);
    if (now !== null) this.busyUntilUs = now + (!rs && byte <= 0x03 && byte !== 0 ? CLEAR_HOME_US : EXECUTE_US);
  }

  private writeData(byte: number): void {
    this.dataCount += 1;
    if (this.addressingCgram) this.cgram[this.addressCounter & 0x3f] = byte;
    else this.ddram[this.addressCounter] = byte;
    this.advance();
    if (this.entryShift && !this.addressingCgram) this.displayShift += this.entryIncrement ? 1 : -1;
  }

  private advance(): void {
    if (this.addressingCgram) {
      this.addressCounter = (this.addressCounter + (this.entryIncrement ? 1 : -1)) & 0x3f;
      return;
    }
    this.addressCounter = this.nextDdramAddress(this.addressCounter, this.entryIncrement ? 1 : -1);
  }

  /** DDRAM wraps 0x27→0x40 and 0x67→0x00 with two lines, 0x4F→0x00 with one. */
  private nextDdramAddress(address: number, step: 1 | -1): number {
    if (!this.twoLines) return (address + step + 0x50) % 0x50;
    const line = address >= 0x40 ? 0x40 : 0x00;
    const offset = address - line + step;
    if (offset >= 0 && offset < 0x28) return line + offset;
    const otherLine = line === 0x40 ? 0x00 : 0x40;
    return step > 0 ? otherLine : otherLine + 0x27;
  }

  private instruction(byte: number): void {
    this.commandCount += 1;
    if (byte & 0x80) {
      this.addressingCgram = false;
      this.addressCounter = byte & 0x7f;
    } else if (byte & 0x40) {
      this.addressingCgram = true;
      this.addressCounter = byte & 0x3f;
    } else if (byte & 0x20) {
      // Function set: the data length bit takes effect for the next strobe.
      this.fourBitMode = (byte & 0x10) === 0;
      this.twoLines = (byte & 0x08) !== 0;
      this.pendingHighNibble = null;
    } else if (byte & 0x10) {
      const delta = byte & 0x04 ? 1 : -1; // R/L: 1 = right
      if (byte & 0x08)
        this.displayShift -= delta; // the text moves right: column 0 shows an earlier address
      else this.addressCounter = this.nextDdramAddress(this.addressCounter, delta);
    } else if (byte & 0x08) {
      this.displayOn = (byte & 0x04) !== 0;
      this.cursorOn = (byte & 0x02) !== 0;
      this.blinkOn = (byte & 0x01) !== 0;
    } else if (byte & 0x04) {
      this.entryIncrement = (byte & 0x02) !== 0;
      this.entryShift = (byte & 0x01) !== 0;
    } else if (byte & 0x02) {
      this.home();
    } else if (byte & 0x01) {
      this.ddram.fill(0x20);
      this.home();
      this.entryIncrement = true;
    }
  }

  private home(): void {
    this.addressingCgram = false;
    this.addressCounter = 0;
    this.displayShift = 0;
  }

  /** DDRAM codes of one visible row, display shift applied (each line scrolls within its 40 bytes). */
  rowCodes(row: number): number[] {
    const start = ROW_START_ADDRESSES[row];
    if (start === undefined || row >= this.rows) throw new Error(`no row ${row} on a ${this.rows}-row display`);
    const line = start >= 0x40 ? 0x40 : 0x00;
    const codes: number[] = [];
    for (let column = 0; column < this.columns; column += 1) {
      const offset = (((start - line + column + this.displayShift) % 0x28) + 0x28) % 0x28;
      codes.push(this.ddram[line + offset] as number);
    }
    return codes;
  }

  /**
   * The text in character memory, one string per visible row (shown whether or not the display
   * is on: see displayOn). In 1-line mode (function set N=0, e.g. an init that never sent 0x28)
   * the controller does not drive the rows at 0x40 and 0x54: they read as blank.
   */
  lines(): string[] {
    return Array.from({ length: this.rows }, (_, row) =>
      !this.twoLines && (ROW_START_ADDRESSES[row] as number) >= 0x40
        ? ' '.repeat(this.columns)
        : this.rowCodes(row).map(romCharacter).join(''),
    );
  }

  /** Row and column of the address counter, or null when it points outside the visible area. */
  cursor(): { row: number; column: number } | null {
    for (let row = 0; row < this.rows; row += 1) {
      const start = ROW_START_ADDRESSES[row] as number;
      if (this.addressCounter >= start && this.addressCounter < start + this.columns)
        return { row, column: this.addressCounter - start };
    }
    return null;
  }
}
