// An Arduino bootloader (STK500 v1, as Optiboot speaks it) in software, so `atm firmware flash`
// can be tested end to end with the real avrdude and no board: avrdude talks to this over a
// pseudo-terminal, and the "flash" it writes can be compared with the hex file (or run in the
// emulated Uno). Pure: bytes in, bytes out.

const STK_OK = 0x10;
const STK_INSYNC = 0x14;
const CRC_EOP = 0x20;
const SIGNATURE_ATMEGA328P = [0x1e, 0x95, 0x0f];
export const ATMEGA328P_FLASH_BYTES = 32 * 1024;
const COMMAND_BYTES_MAX = 300; // PROG_PAGE of a 128-byte page plus header; guards the buffer

/** Bytes a command takes, from its command byte up to and including CRC_EOP; null = not known yet. */
function commandLength(buffer: number[]): number | null {
  switch (buffer[0]) {
    case 0x41: // GET_PARAMETER p
      return 3;
    case 0x42: // SET_DEVICE: 20 parameter bytes
      return 22;
    case 0x45: // SET_DEVICE_EXT: length byte n (itself included), then n-1 more
      return buffer.length < 2 ? null : 1 + (buffer[1] as number) + 1;
    case 0x55: // LOAD_ADDRESS lo hi
      return 4;
    case 0x56: // UNIVERSAL a b c d
      return 6;
    case 0x64: // PROG_PAGE hi lo type data…
      return buffer.length < 4 ? null : 5 + (((buffer[1] as number) << 8) | (buffer[2] as number));
    case 0x74: // READ_PAGE hi lo type
      return 5;
    default: // GET_SYNC, ENTER/LEAVE_PROGMODE, READ_SIGN and anything else: command + EOP
      return 2;
  }
}

export class Stk500Bootloader {
  readonly flash = new Uint8Array(ATMEGA328P_FLASH_BYTES).fill(0xff);
  private pending: number[] = [];
  private addressBytes = 0;
  commands = 0;
  pagesWritten = 0;
  left = false; // LEAVE_PROGMODE seen: the bootloader would now start the sketch

  /** Feeds bytes from the host; returns the bytes the bootloader answers. */
  push(bytes: Uint8Array): Buffer {
    const out: number[] = [];
    for (const byte of bytes) {
      this.pending.push(byte);
      const length = commandLength(this.pending);
      if (length === null || this.pending.length < length) {
        if (this.pending.length > COMMAND_BYTES_MAX) this.pending = [];
        continue;
      }
      const command = this.pending;
      this.pending = [];
      if (command[length - 1] !== CRC_EOP) continue; // out of sync: say nothing, as Optiboot does
      this.commands += 1;
      out.push(...this.answer(command));
    }
    return Buffer.from(out);
  }

  private answer(command: number[]): number[] {
    switch (command[0]) {
      case 0x41: {
        const parameter = command[1];
        // Software version 8.0, as Optiboot 8 reports; other parameters answer 3 like Optiboot.
        const value = parameter === 0x81 ? 8 : parameter === 0x82 ? 0 : 0x03;
        return [STK_INSYNC, value, STK_OK];
      }
      case 0x55:
        this.addressBytes = (((command[2] as number) << 8) | (command[1] as number)) * 2; // word address
        return [STK_INSYNC, STK_OK];
      case 0x56:
        return [STK_INSYNC, 0x00, STK_OK];
      case 0x64: {
        const length = ((command[1] as number) << 8) | (command[2] as number);
        if (command[3] === 0x46 /* 'F' */ && this.addressBytes + length <= this.flash.length) {
          this.flash.set(command.slice(4, 4 + length), this.addressBytes);
          this.pagesWritten += 1;
        }
        return [STK_INSYNC, STK_OK];
      }
      case 0x74: {
        const length = ((command[1] as number) << 8) | (command[2] as number);
        const data =
          command[3] === 0x46
            ? [...this.flash.subarray(this.addressBytes, this.addressBytes + length)]
            : new Array<number>(length).fill(0xff);
        return [STK_INSYNC, ...data, STK_OK];
      }
      case 0x75:
        return [STK_INSYNC, ...SIGNATURE_ATMEGA328P, STK_OK];
      case 0x51:
        this.left = true;
        return [STK_INSYNC, STK_OK];
      default:
        return [STK_INSYNC, STK_OK];
    }
  }
}

/** Intel HEX → bytes at their addresses (data and segment records; enough for AVR sketches). */
export function parseIntelHex(
  text: string,
  sizeBytes = ATMEGA328P_FLASH_BYTES,
): { bytes: Uint8Array; highestAddress: number } {
  const bytes = new Uint8Array(sizeBytes).fill(0xff);
  let highestAddress = 0;
  let base = 0;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.length === 0) continue;
    if (!line.startsWith(':')) throw new Error(`not an Intel HEX line: ${line.slice(0, 20)}`);
    const record = Buffer.from(line.slice(1), 'hex');
    const count = record[0] as number;
    const address = ((record[1] as number) << 8) | (record[2] as number);
    const type = record[3] as number;
    if (record.reduce((total, byte) => (total + byte) & 0xff, 0) !== 0)
      throw new Error(`Intel HEX checksum error in ${line.slice(0, 20)}`);
    if (type === 0x00) {
      bytes.set(record.subarray(4, 4 + count), base + address);
      highestAddress = Math.max(highestAddress, base + address + count);
    } else if (type === 0x02) base = (((record[4] as number) << 8) | (record[5] as number)) * 16;
    else if (type === 0x04) base = (((record[4] as number) << 8) | (record[5] as number)) << 16;
    else if (type === 0x01) break;
  }
  return { bytes, highestAddress };
}
