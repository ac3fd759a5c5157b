import { Box, Text, useApp, useStdout } from 'ink';
import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { ChatController } from './chat-controller.js';
import type { ConversationSummary } from './chat-state.js';
import { ChatView, type ChatActions } from './ChatView.js';
import { GroupScreen } from './GroupScreen.js';
import { groupOfChat } from './group-state.js';
import { InboxView, type InboxActions } from './InboxView.js';
import { isCtrl } from './key-decoder.js';
import type { EditorState } from './line-editor.js';
import { tint } from './palette.js';
import { useBell } from './use-bell.js';
import { useChatSnapshot } from './use-chat-snapshot.js';
import { KeyboardProvider, useKeys } from './use-keys.js';
import { useTerminalSize } from './use-terminal-size.js';

/** Clears the whole screen and puts the cursor home (Ctrl+L, and after a resize). */
const CLEAR_SCREEN = '\u001b[2J\u001b[3J\u001b[H';
/** How long the empty frame of a redraw stays. */
const REDRAW_GAP_MS = 80;

/** What the app may do to the terminal beyond drawing: stop itself for the shell (Ctrl+Z). */
export interface TerminalControl {
  /** Stops the process for the shell; `resumed` runs once `fg` continued it, to draw it all again. */
  readonly suspend: (resumed: () => void) => void;
}

/**
 * The whole TUI: the inbox, or one conversation, over one controller. Ctrl+C anywhere waits for
 * queued messages (bounded), saves, and exits; Ctrl+L redraws; Ctrl+Z suspends (when the terminal
 * allows it); the bell rings on new messages unless turned off.
 */
export function App(props: {
  controller: ChatController;
  initialPeer: string | null;
  /** The chat to open once the relay's key matched the fingerprint given with it. */
  pending?: Promise<string | null> | null;
  terminal?: TerminalControl;
}) {
  return (
    <KeyboardProvider>
      <Screen {...props} />
    </KeyboardProvider>
  );
}

function Screen({
  controller,
  initialPeer,
  pending = null,
  terminal,
}: {
  controller: ChatController;
  initialPeer: string | null;
  pending?: Promise<string | null> | null;
  terminal?: TerminalControl;
}) {
  const snapshot = useChatSnapshot(controller);
  const { columns, rows } = useTerminalSize();
  const { stdout } = useStdout();
  const { exit } = useApp();
  const [peer, setPeer] = useState<string | null>(initialPeer);
  const [left, setLeft] = useState<string | null>(initialPeer);
  /** The message a search result opened the chat at, and a count so each opening scrolls anew. */
  const [focus, setFocus] = useState<{ id: string; count: number } | null>(null);
  const [quitting, setQuitting] = useState(false);
  const [blank, setBlank] = useState(false);
  const drafts = useRef(new Map<string, EditorState>());
  useBell(snapshot.arrivals, snapshot.bell);

  /** Clears the screen, draws one empty frame and then the screen again, so nothing stale stays. */
  const redraw = useCallback(() => {
    stdout.write(CLEAR_SCREEN);
    setBlank(true);
    // Later than Ink's frame throttle (30 per second), so the empty frame is drawn, not merged away.
    setTimeout(() => {
      setBlank(false);
    }, REDRAW_GAP_MS);
  }, [stdout]);
  const size = useRef({ columns, rows });
  useEffect(() => {
    if (size.current.columns === columns && size.current.rows === rows) return;
    size.current = { columns, rows };
    redraw();
  }, [columns, rows, redraw]);

  const quitting$ = useRef(false);
  const quit = useCallback(() => {
    if (quitting$.current) return;
    quitting$.current = true;
    setQuitting(true);
    // Whatever happens while saving, the screen closes and the error is reported after it.
    controller.shutdown().then(
      (result) => {
        exit(result);
      },
      (error: unknown) => {
        exit(error instanceof Error ? error : new Error(String(error)));
      },
    );
  }, [controller, exit]);
  useKeys((press) => {
    if (isCtrl(press, 'c')) quit();
    else if (isCtrl(press, 'l')) redraw();
    else if (isCtrl(press, 'z') && terminal) terminal.suspend(redraw);
    else return quitting$.current;
    return true;
  }, 10);

  useEffect(() => {
    // Logged out in another terminal: the screen closes, and the command says why.
    if (snapshot.ended !== null) quit();
  }, [snapshot.ended, quit]);

  const openPeer = useCallback(
    (id: string) => {
      // A group's conversation is `group:<id>` (group-state.ts), never a peer's.
      const group = groupOfChat(id);
      if (group === null) controller.openChat(id);
      else controller.groups.open(group);
      setPeer(id);
      setLeft(id);
      setFocus(null);
    },
    [controller],
  );
  const inbox: InboxActions = useMemo(
    () => ({
      open: openPeer,
      openAddress: (address) => {
        const id = controller.resolve(address);
        if (id === null) return false;
        if (typeof id === 'string') {
          openPeer(id);
          return true;
        }
        return id.then((checked) => {
          if (checked === null) return false;
          openPeer(checked);
          return true;
        });
      },
      quit,
      toggleBell: () => {
        controller.toggleBell();
      },
    }),
    [controller, quit, openPeer],
  );
  useEffect(() => {
    // `metachat chat id#fingerprint`: the chat opens once the relay's key matched it, else never.
    if (pending === null) return;
    void pending.then((id) => {
      if (id !== null && !quitting$.current) openPeer(id);
    });
  }, [pending, openPeer]);

  const chat: ChatActions | null = useMemo(
    () =>
      peer === null
        ? null
        : {
            send: (content) => controller.send(peer, content),
            retry: () => {
              controller.retry(peer);
            },
            loadOlder: () => {
              controller.loadOlder(peer);
            },
            back: () => {
              controller.closeChat();
              setPeer(null);
              setFocus(null);
            },
            search: (words) => controller.search(words),
            openAt: (hit) => {
              if (!controller.openAt(hit.peer, hit.id)) return;
              setPeer(hit.peer);
              setLeft(hit.peer);
              setFocus((last) => ({ id: hit.id, count: (last?.count ?? 0) + 1 }));
            },
            toggleBell: () => {
              controller.toggleBell();
            },
          },
    [controller, peer],
  );
  const keepDraft = useCallback(
    (state: EditorState) => {
      if (peer !== null) drafts.current.set(peer, state);
    },
    [peer],
  );

  // Ink appends a line after the frame; one row less keeps the frame within the terminal.
  const height = Math.max(1, rows - 1);
  // A redraw hides the screen for one frame without unmounting it: drafts and scrolling stay.
  const shown = (content: ReactNode) => (
    <Box height={height} width={columns} flexDirection="column">
      <Box display={blank ? 'none' : 'flex'} flexDirection="column">
        {content}
      </Box>
    </Box>
  );
  if (quitting) {
    return shown(<Text {...tint('yellow')}>Sending queued messages and saving…</Text>);
  }
  const group = peer === null ? null : groupOfChat(peer);
  if (peer !== null && group !== null) {
    const draft = drafts.current.get(peer);
    return shown(
      <GroupScreen
        key={peer}
        controller={controller}
        group={group}
        snapshot={snapshot}
        width={columns}
        height={height}
        onBack={() => {
          controller.groups.close();
          setPeer(null);
        }}
        {...(draft === undefined ? {} : { draft })}
        onDraft={keepDraft}
      />,
    );
  }
  if (peer !== null && chat !== null) {
    const summary: ConversationSummary = snapshot.conversations.find((c) => c.id === peer) ?? {
      id: peer,
      ...controller.labelOf(peer),
      unread: 0,
      lastActivity: 0,
      online: false,
      lastSeen: null,
      rejected: 0,
      trust: controller.trustOf(peer),
    };
    const draft = drafts.current.get(peer);
    return shown(
      <ChatView
        key={focus === null ? peer : `${peer}:${String(focus.count)}`}
        snapshot={snapshot}
        summary={summary}
        log={snapshot.chats.get(peer)}
        width={columns}
        height={height}
        actions={chat}
        {...(draft === undefined ? {} : { draft })}
        onDraft={keepDraft}
        focus={focus?.id}
      />,
    );
  }
  return shown(
    <InboxView snapshot={snapshot} width={columns} height={height} actions={inbox} focus={left} />,
  );
}
