// Text fields (log in, sign up, password change): typed characters, keypad multi-tap letters,
// and what Enter does on each field (the username is checked here, the password by the bank).
import type { KeyName } from '../hardware/index.js';
import { MULTITAP, MULTITAP_MS, TEXT_CHARS_MAX, busy, go, stay, tell } from './flow-state.js';
import type { KioskState, Screen, Step } from './flow-state.js';
import { PASSWORD_RULE, isPasswordChangeScreen, passwordFits, submitPasswordChange } from './flow-account.js';
import { say } from './flow-words.js';
import { text } from './lcd.js';

export type TextScreen = Extract<Screen, { text: string }>;
export function isTextScreen(screen: Screen): screen is TextScreen {
  return (
    screen.name === 'loginUser' ||
    screen.name === 'loginPassword' ||
    screen.name === 'signupUser' ||
    screen.name === 'signupPassword' ||
    screen.name === 'signupConfirm' ||
    isPasswordChangeScreen(screen)
  );
}

/** Username fields take only a-z 0-9 . _ -, so a typed * and # keep their keypad meaning there. */
function isUsernameScreen(screen: Screen): boolean {
  return screen.name === 'loginUser' || screen.name === 'signupUser';
}

export function onChar(state: KioskState, ch: string, atMs: number): Step {
  const screen = state.screen;
  if (!isTextScreen(screen)) return stay(state);
  if (isUsernameScreen(screen) && (ch === '*' || ch === '#'))
    return onTextKey(state, screen, ch === '*' ? 'clear' : 'enter', 'keyboard', atMs);
  if (screen.text.length >= TEXT_CHARS_MAX) return stay(state);
  return stay({ ...tell(state, null), screen: { ...screen, text: screen.text + ch }, multitap: null });
}

export function onTextKey(
  state: KioskState,
  screen: TextScreen,
  key: KeyName,
  source: 'keypad' | 'keyboard',
  atMs: number,
): Step {
  if (key === 'cancel') {
    // From the password, back to the username (kept, to correct it); from elsewhere, out.
    if (screen.name === 'loginPassword') return go(state, { name: 'loginUser', text: screen.username });
    // A password change is left for the menu, its passwords dropped with its screen.
    if (isPasswordChangeScreen(screen)) return go(state, { name: 'menu' });
    return go(state, { name: 'welcome' });
  }
  if (key === 'backspace')
    return stay({ ...state, screen: { ...screen, text: screen.text.slice(0, -1) }, multitap: null });
  if (key === 'clear') return stay({ ...state, screen: { ...screen, text: '' }, multitap: null });
  if (key === 'enter') return submitText(state, screen);
  if (/^[0-9]$/.test(key)) {
    if (source === 'keyboard') return onChar(state, key, atMs);
    return multitap(state, screen, key, atMs);
  }
  return stay(state);
}

/** Keypad digits in a text field cycle letters like a phone: 2 → a, 22 → b, 222 → c, 2222 → 2. */
function multitap(state: KioskState, screen: TextScreen, key: string, atMs: number): Step {
  const letters = MULTITAP[key] ?? key;
  const previous = state.multitap;
  if (previous !== null && previous.key === key && atMs - previous.atMs <= MULTITAP_MS && screen.text.length > 0) {
    const last = screen.text.at(-1) as string;
    const next = letters[(letters.indexOf(last) + 1) % letters.length] as string;
    return stay({ ...state, screen: { ...screen, text: screen.text.slice(0, -1) + next }, multitap: { key, atMs } });
  }
  if (screen.text.length >= TEXT_CHARS_MAX) return stay(state);
  return stay({
    ...tell(state, null),
    screen: { ...screen, text: screen.text + (letters[0] as string) },
    multitap: { key, atMs },
  });
}

function submitText(state: KioskState, screen: TextScreen): Step {
  switch (screen.name) {
    case 'loginUser':
      if (screen.text.length === 0) return stay(tell(state, say('Enter your username', 'Enter username')));
      return go(state, { name: 'loginPassword', username: screen.text, text: '' });
    case 'loginPassword':
      return go(state, busy('Checking your details…', text(1, 'Checking details', 'Checking...')), [
        { kind: 'login', username: screen.username, password: screen.text },
      ]);
    case 'signupUser':
      if (!/^[A-Za-z0-9._-]{3,32}$/.test(screen.text))
        return stay(tell(state, say('Username: 3-32 letters, digits, . _ -', '3-32 a-z 0-9._-')));
      // Ask the bank now, not after the password was typed twice.
      return go(state, busy('Checking the username…', text(1, 'Checking username', 'Checking name')), [
        { kind: 'checkUsername', username: screen.text },
      ]);
    case 'signupPassword':
      if (!passwordFits(screen.text)) return stay(tell({ ...state, screen: { ...screen, text: '' } }, PASSWORD_RULE));
      return go(state, { name: 'signupConfirm', username: screen.username, password: screen.text, text: '' });
    case 'signupConfirm':
      if (screen.text !== screen.password)
        return go(
          state,
          { name: 'signupPassword', username: screen.username, text: '' },
          [],
          say('Passwords did not match: enter it again', 'No match: again'),
        );
      return go(state, busy('Creating your account…', text(1, 'Creating account', 'Creating...')), [
        { kind: 'register', username: screen.username, password: screen.password },
      ]);
    case 'passwordOld':
    case 'passwordNew':
    case 'passwordRepeat':
      return submitPasswordChange(state, screen);
    default: {
      const exhaustive: never = screen;
      return exhaustive;
    }
  }
}
