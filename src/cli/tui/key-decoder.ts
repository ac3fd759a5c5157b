/** A key the chat screen acts on. Letters come with `ctrl` or `meta` (a plain letter is text). */
export type KeyName =
  | 'return'
  | 'newline'
  | 'backspace'
  | 'delete'
  | 'tab'
  | 'escape'
  | 'up'
  | 'down'
  | 'left'
  | 'right'
  | 'home'
  | 'end'
  | 'pageup'
  | 'pagedown'
  | 'insert'
  | 'unknown'
  | `letter-${string}`;

/** One thing the user did: typed text, a whole bracketed paste, or a key with its modifiers. */
export type Keypress =
  | { readonly kind: 'text'; readonly text: string }
  /** `cut` when the paste was longer than anything could hold, and only its start was kept. */
  | { readonly kind: 'paste'; readonly text: string; readonly cut: boolean }
  | {
      readonly kind: 'key';
      readonly name: KeyName;
      readonly ctrl: boolean;
      readonly meta: boolean;
      readonly shift: boolean;
    };

/** A pasted text longer than this (in UTF-16 units) is not kept past it: nothing can hold it anyway. */
const PASTE_CAP = 1 << 20;

const PASTE_START = '\u001b[200~';
const PASTE_END = '\u001b[201~';

function key(name: KeyName, mods: { ctrl?: boolean; meta?: boolean; shift?: boolean } = {}) {
  return {
    kind: 'key',
    name,
    ctrl: mods.ctrl ?? false,
    meta: mods.meta ?? false,
    shift: mods.shift ?? false,
  } as const;
}

/** A C0 control as a key: Enter, Ctrl+J, Tab, Backspace, or Ctrl+letter. */
function controlKey(code: number, meta = false): Keypress {
  if (code === 0x0d) return key(meta ? 'newline' : 'return', { meta });
  if (code === 0x0a) return key('newline', { meta });
  if (code === 0x09) return key('tab', { meta });
  if (code === 0x7f || code === 0x08) return key('backspace', { meta });
  if (code >= 0x01 && code <= 0x1a) {
    return key(`letter-${String.fromCharCode(0x60 + code)}`, { ctrl: true, meta });
  }
  return key('unknown', { meta });
}

const CSI_LETTERS: Record<string, KeyName> = {
  A: 'up',
  B: 'down',
  C: 'right',
  D: 'left',
  H: 'home',
  F: 'end',
};

const CSI_TILDE: Record<string, KeyName> = {
  '1': 'home',
  '2': 'insert',
  '3': 'delete',
  '4': 'end',
  '5': 'pageup',
  '6': 'pagedown',
  '7': 'home',
  '8': 'end',
};

/** xterm's modifier parameter: 1 + (shift 1, alt 2, ctrl 4, meta 8). */
function modifiers(param: string | undefined, meta: boolean) {
  const bits = Math.max(0, Number.parseInt(param ?? '1', 10) - 1) || 0;
  return { shift: (bits & 1) !== 0, meta: meta || (bits & 10) !== 0, ctrl: (bits & 4) !== 0 };
}

/** One escape sequence, as Ink's parser hands it over whole (CSI, SS3, or ESC + one character). */
function escapeKey(sequence: string): Keypress {
  let rest = sequence.slice(1);
  let meta = false;
  if (rest.startsWith('\u001b')) {
    rest = rest.slice(1);
    meta = true;
  }
  if (rest === '') return key('escape', { meta });
  const csi = /^\[\[?([\d;]*)([A-Za-z~])$/.exec(rest);
  if (csi) {
    const [, params = '', final = ''] = csi;
    const parts = params.split(';');
    if (final === '~') {
      const name = CSI_TILDE[parts[0] ?? ''];
      return name === undefined ? key('unknown') : key(name, modifiers(parts[1], meta));
    }
    if (final === 'Z') return key('tab', { shift: true, meta });
    const name = CSI_LETTERS[final];
    return name === undefined ? key('unknown') : key(name, modifiers(parts[1], meta));
  }
  const ss3 = /^O([A-Za-z])$/.exec(rest);
  if (ss3) {
    const name = CSI_LETTERS[ss3[1] ?? ''];
    return name === undefined ? key('unknown') : key(name, { meta });
  }
  const char = String.fromCodePoint(rest.codePointAt(0) ?? 0);
  if (char.length !== rest.length) return key('unknown');
  const code = char.codePointAt(0) ?? 0;
  // Alt with a control: Alt+Enter, Alt+Backspace, Alt+Ctrl+letter.
  if (code < 0x20 || code === 0x7f) return controlKey(code, true);
  // Alt+letter (Alt+b, Alt+f are word motions in readline and macOS terminals).
  return key(`letter-${char.toLowerCase()}`, { meta: true, shift: char !== char.toLowerCase() });
}

/**
 * Turns Ink's raw input events into keypresses. Ink hands escape sequences over one by one, but a
 * run of plain bytes arrives as one event even when it holds keys (`typo` then Backspace, or
 * Ctrl+E Ctrl+U, read together over ssh): here every control in such a run is its own key, and
 * text between them is text. A bracketed paste (`ESC[200~` … `ESC[201~`) is collected whole, its
 * newlines kept as text, so a pasted newline never sends.
 */
export class KeyDecoder {
  private paste: string[] | null = null;
  private pasteLength = 0;
  private pasteCut = false;

  /** True between a paste's start and end markers. */
  get pasting(): boolean {
    return this.paste !== null;
  }

  /** The keypresses of one raw event, in order. */
  decode(event: string): Keypress[] {
    if (event === PASTE_START) {
      this.paste = [];
      this.pasteLength = 0;
      this.pasteCut = false;
      return [];
    }
    if (this.paste !== null) {
      if (event === PASTE_END) {
        const text = this.paste.join('');
        this.paste = null;
        return [{ kind: 'paste', text, cut: this.pasteCut }];
      }
      // Inside a paste an escape sequence is pasted bytes, not a key: kept for the cleaner to drop.
      const room = PASTE_CAP - this.pasteLength;
      if (event.length > room) this.pasteCut = true;
      const kept = event.slice(0, Math.max(0, room));
      this.paste.push(kept);
      this.pasteLength += kept.length;
      return [];
    }
    if (event.startsWith('\u001b')) return [escapeKey(event)];
    const out: Keypress[] = [];
    let text = '';
    for (const char of event) {
      const code = char.codePointAt(0) ?? 0;
      if (code < 0x20 || code === 0x7f) {
        if (text !== '') out.push({ kind: 'text', text });
        text = '';
        out.push(controlKey(code));
      } else {
        text += char;
      }
    }
    if (text !== '') out.push({ kind: 'text', text });
    return out;
  }
}

/** True for a letter key with Ctrl (and no Alt): `isCtrl(k, 'c')`. */
export function isCtrl(press: Keypress, letter: string): boolean {
  return press.kind === 'key' && press.ctrl && !press.meta && press.name === `letter-${letter}`;
}

/** True for a letter key with Alt: `isMeta(k, 'b')`. */
export function isMeta(press: Keypress, letter: string): boolean {
  return press.kind === 'key' && press.meta && !press.ctrl && press.name === `letter-${letter}`;
}

/** True for the named key without Ctrl or Alt. */
export function isKey(press: Keypress, name: KeyName): boolean {
  return press.kind === 'key' && press.name === name && !press.ctrl && !press.meta;
}
