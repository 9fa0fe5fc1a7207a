// Speech guidance (issue 17 item 6, in the manner of ADA §707.5): what the kiosk says through the
// headphone jack as the customer moves through the screens. Pure: from the state before and after
// a step to what to speak, so it is tested without a speaker. The controller applies it to the
// hardware Speaker seam (espeak-ng, or the recording fake in tests).
// Rules: a new screen speaks its prompt (title, text and the keys, amounts in words); a message
// under the screen is spoken; each digit of an amount speaks the amount so far; each character
// typed into a username is spoken; a password character is never spoken, only a neutral tone.
import { spokenAmount } from '../hardware/index.js';
import type { KioskState, Screen } from './flow.js';
import { view } from './view.js';

export type SpeechAction = { kind: 'say'; text: string } | { kind: 'tone' };

/**
 * Which screens take a secret: every screen must say (a new screen does not compile until it
 * does), so a password field can never be read back by oversight.
 */
const SECRET_SCREEN: Record<Screen['name'], boolean> = {
  outOfService: false,
  welcome: false,
  loginUser: false,
  loginPassword: true,
  signupUser: false,
  signupPassword: true,
  signupConfirm: true,
  passwordOld: true,
  passwordNew: true,
  passwordRepeat: true,
  busy: false,
  menu: false,
  insertNotes: false,
  amount: false,
  confirm: false,
  result: false,
  receipt: false,
};
const PASSWORD_SCREENS: readonly string[] = Object.entries(SECRET_SCREEN).flatMap(([name, secret]) =>
  secret ? [name] : [],
);

/** "150.00" → "150 dollars"; "[A]" → "A": how numbers and keys read aloud unambiguously. */
export function spokenText(text: string): string {
  return text
    .replace(/\b(\d{1,9})\.(\d\d)\b/g, (_match, whole: string, cents: string) =>
      spokenAmount(Number(whole) * 100 + Number(cents)),
    )
    .replace(/\[([^\]]+)\]/g, '$1')
    .replace(/[*_]{2,}/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** A screen's whole prompt as one utterance: what it is, what it says, which keys do what. */
export function spokenPrompt(state: KioskState): string {
  const shown = view(state);
  // A password screen's field shows stars: spoken as a count, never as characters.
  const body = PASSWORD_SCREENS.includes(state.screen.name)
    ? shown.body.filter((line) => !/^\s*\**_$/.test(line))
    : shown.body;
  const parts = [shown.title, ...body, state.message ?? '', shown.keys === '' ? '' : `Keys: ${shown.keys}`];
  // A sentence of its own each, without doubling the punctuation a line already ends with.
  const sentences = parts.map((part) => part.trim()).filter((part) => part !== '');
  return spokenText(sentences.map((part) => (/[.?!:…]$/.test(part) ? part : `${part}.`)).join(' '));
}

function typed(state: KioskState): string | null {
  return 'text' in state.screen ? state.screen.text : null;
}

/** What to speak after a step from `before` to `after` (nothing when nothing a customer hears changed). */
export function speechFor(before: KioskState | null, after: KioskState): SpeechAction[] {
  if (before === null) return [{ kind: 'say', text: spokenPrompt(after) }];
  const screenChanged =
    before.screen.name !== after.screen.name ||
    view(before).title !== view(after).title ||
    (after.screen.name === 'busy' && before.screen !== after.screen) ||
    (after.screen.name === 'result' && before.screen !== after.screen);
  if (screenChanged) return [{ kind: 'say', text: spokenPrompt(after) }];
  const actions: SpeechAction[] = [];
  const textBefore = typed(before);
  const textAfter = typed(after);
  if (textBefore !== null && textAfter !== null && textAfter !== textBefore) {
    if (PASSWORD_SCREENS.includes(after.screen.name)) {
      // Never a password character: a tone for each one typed; the count when one is deleted.
      if (textAfter.length > textBefore.length) actions.push({ kind: 'tone' });
      else actions.push({ kind: 'say', text: `${textAfter.length} characters` });
    } else if (textAfter.length > textBefore.length && textAfter.startsWith(textBefore.slice(0, -1))) {
      actions.push({ kind: 'say', text: textAfter.slice(-1) });
    } else {
      actions.push({ kind: 'say', text: textAfter === '' ? 'empty' : textAfter });
    }
  }
  if (after.screen.name === 'amount' && before.screen.name === 'amount' && after.screen.digits !== before.screen.digits)
    actions.push({ kind: 'say', text: spokenAmount(Number(after.screen.digits || '0')) });
  if (after.screen.name === 'insertNotes' && after.escrow.totalCents !== before.escrow.totalCents)
    actions.push({ kind: 'say', text: `Counted ${spokenAmount(after.escrow.totalCents)}` });
  if (after.message !== null && after.message !== before.message)
    actions.push({ kind: 'say', text: spokenText(after.message) });
  return actions;
}
