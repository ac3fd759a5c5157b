import { useStdin } from 'ink';
import { createContext, useContext, useEffect, useMemo, useRef, type ReactNode } from 'react';
import { KeyDecoder, type Keypress } from './key-decoder.js';

/** A key handler; true when it used the key, so handlers below it do not see it. */
export type KeyHandler = (press: Keypress) => boolean;

/** Where keypresses go: decoded once, handed to every handler in order of priority. */
class KeyHub {
  private readonly decoder = new KeyDecoder();
  private readonly handlers: { priority: number; handle: { current: KeyHandler } }[] = [];

  add(priority: number, handle: { current: KeyHandler }): () => void {
    const entry = { priority, handle };
    this.handlers.push(entry);
    this.handlers.sort((a, b) => b.priority - a.priority);
    return () => {
      this.handlers.splice(this.handlers.indexOf(entry), 1);
    };
  }

  dispatch(event: string): void {
    for (const press of this.decoder.decode(event)) {
      // A copy: a handler may unmount a view (and its handler) while the key is handed round.
      for (const { handle } of [...this.handlers]) if (handle.current(press)) break;
    }
  }
}

const KeyHubContext = createContext<KeyHub | null>(null);

/**
 * Reads the keyboard for everything inside it: Ink's raw input events, each decoded into every key
 * it holds (see KeyDecoder), in raw mode for as long as it is mounted.
 */
export function KeyboardProvider({ children }: { children: ReactNode }) {
  const { internal_eventEmitter: events, setRawMode } = useStdin();
  const hub = useMemo(() => new KeyHub(), []);
  useEffect(() => {
    setRawMode(true);
    const onInput = (event: string) => {
      hub.dispatch(event);
    };
    events.on('input', onInput);
    return () => {
      events.off('input', onInput);
      setRawMode(false);
    };
  }, [events, hub, setRawMode]);
  return <KeyHubContext.Provider value={hub}>{children}</KeyHubContext.Provider>;
}

/**
 * Calls `handler` for each keypress while `active`; higher `priority` goes first. The latest
 * handler is used, and every key of a chunk is handed over one after the other, so a handler
 * must read what earlier keys changed from refs, not from the render it was made in.
 */
export function useKeys(handler: KeyHandler, priority = 0, active = true): void {
  const hub = useContext(KeyHubContext);
  if (hub === null) throw new Error('useKeys needs a KeyboardProvider above it.');
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => {
    if (!active) return undefined;
    return hub.add(priority, latest);
  }, [hub, priority, active]);
}
