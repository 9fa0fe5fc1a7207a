// The ReceiptPrinter contract suite (hardware/types.ts), run against every printer driver: the
// sim in test/hardware/sim-printer.test.ts, the ESC/POS serial driver against the firmware-sim
// printer on a pty in test/hardware/serial-printer.test.ts. A module of its own, like
// hardware-contracts.ts, so importing it runs no tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RECEIPT_LINES_MAX, normaliseReceiptLines } from '../../hardware/index.js';
import type { PaperStatus, PrintFault, PrintResult, ReceiptPrinter } from '../../hardware/index.js';
import { recordStates } from './hardware-contracts.js';

/** A printer plus the powers of the world around it (for the serial driver: the simulated printer). */
export interface PrinterHarness {
  readonly printer: ReceiptPrinter;
  /** Every receipt the printer has cut so far, oldest first, as its printed lines. */
  readonly printed: () => Promise<string[][]>;
  /** What the roll's sensors see from now on; the driver learns it when it next asks. */
  readonly setPaper: (paper: Exclude<PaperStatus, 'unknown'>) => Promise<void>;
  /** Resolve once the driver could have noticed the cable. */
  readonly unplug: () => Promise<void>;
  readonly replug: () => Promise<void>;
  readonly dispose: () => Promise<void>;
}

export const printFaultOf = (result: PrintResult): PrintFault | null => (result.ok ? null : result.fault);

export function recordPaper(printer: ReceiptPrinter): PaperStatus[] {
  const papers: PaperStatus[] = [];
  printer.onPaper((paper) => papers.push(paper));
  return papers;
}

export function printerContract(name: string, build: () => Promise<PrinterHarness>): void {
  const withPrinter = (title: string, body: (harness: PrinterHarness) => Promise<void>): void => {
    test(`${name} printer: ${title}`, async () => {
      const harness = await build();
      try {
        await body(harness);
      } finally {
        await harness.dispose();
      }
    });
  };

  withPrinter('after open it is online with paper ok, and prints the normalised lines', async (harness) => {
    const { printer } = harness;
    assert.ok(printer.columns === 42 || printer.columns === 32);
    assert.equal(printer.paper(), 'unknown', 'nothing is known before open');
    await printer.open();
    assert.equal(printer.state(), 'online');
    assert.equal(printer.paper(), 'ok');
    const lines = ['SECURE ATM', 'x'.repeat(printer.columns + 5), 'Café ✓', '', 'end   '];
    assert.deepEqual(await printer.print(lines), { ok: true });
    assert.deepEqual(await harness.printed(), [normaliseReceiptLines(lines, printer.columns)]);
    assert.deepEqual((await harness.printed())[0], [
      'SECURE ATM',
      'x'.repeat(printer.columns),
      'xxxxx',
      'Caf? ?',
      '',
      'end',
    ]);
  });

  withPrinter('receipts print one at a time, in call order, and stop at RECEIPT_LINES_MAX', async (harness) => {
    const { printer } = harness;
    await printer.open();
    const long = Array.from({ length: RECEIPT_LINES_MAX + 10 }, (_, index) => `line ${index}`);
    const results = await Promise.all([printer.print(['first']), printer.print(long), printer.print(['third'])]);
    assert.deepEqual(results, [{ ok: true }, { ok: true }, { ok: true }]);
    const printed = await harness.printed();
    assert.deepEqual(printed, [['first'], long.slice(0, RECEIPT_LINES_MAX), ['third']]);
  });

  withPrinter('paper low is reported to listeners, and receipts still print', async (harness) => {
    const { printer } = harness;
    await printer.open();
    const papers = recordPaper(printer);
    await harness.setPaper('low');
    assert.deepEqual(await printer.print(['on a low roll']), { ok: true });
    assert.equal(printer.paper(), 'low');
    assert.deepEqual(papers, ['low']);
    assert.equal(printer.state(), 'online');
    assert.deepEqual(await harness.printed(), [['on a low roll']]);
  });

  withPrinter(
    'paper out: print resolves with the paperOut fault (never throws), nothing is printed; a new roll prints again',
    async (harness) => {
      const { printer } = harness;
      await printer.open();
      const papers = recordPaper(printer);
      await harness.setPaper('out');
      let pending: Promise<PrintResult> | undefined;
      assert.doesNotThrow(() => {
        pending = printer.print(['lost']);
      });
      const result = await (pending as Promise<PrintResult>);
      assert.equal(printFaultOf(result), 'paperOut');
      assert.match(result.ok ? '' : result.detail, /paper/);
      assert.equal(printer.paper(), 'out');
      assert.equal(printer.state(), 'online', 'out of paper is the media, not the device (XFS)');
      assert.deepEqual(await harness.printed(), []);
      await harness.setPaper('ok');
      assert.deepEqual(await printer.print(['new roll']), { ok: true });
      assert.deepEqual(await harness.printed(), [['new roll']]);
      assert.deepEqual(papers, ['out', 'ok']);
    },
  );

  withPrinter(
    'unplugged: offline with paper unknown, print resolves with the offline fault; replugged: online and printing',
    async (harness) => {
      const { printer } = harness;
      await printer.open();
      const states = recordStates(printer);
      const papers = recordPaper(printer);
      await harness.unplug();
      assert.equal(printer.state(), 'offline');
      assert.equal(printer.paper(), 'unknown');
      assert.equal(printFaultOf(await printer.print(['lost'])), 'offline');
      await harness.replug();
      assert.equal(printer.state(), 'online');
      assert.deepEqual(await printer.print(['back']), { ok: true });
      assert.deepEqual(await harness.printed(), [['back']]);
      assert.deepEqual(states, ['offline', 'online']);
      assert.deepEqual(papers, ['unknown', 'ok']);
    },
  );

  withPrinter('before open and after close, print resolves with the offline fault', async (harness) => {
    const { printer } = harness;
    assert.equal(printFaultOf(await printer.print(['early'])), 'offline');
    await printer.open();
    await printer.close();
    assert.equal(printer.state(), 'offline');
    assert.equal(printFaultOf(await printer.print(['late'])), 'offline');
    assert.deepEqual(await harness.printed(), []);
  });
}
