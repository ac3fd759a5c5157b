import { Box, Text, useApp, useInput } from 'ink';
import { useCallback, useMemo, useRef, useState } from 'react';
import type { ChatController } from './chat-controller.js';
import type { ConversationSummary } from './chat-state.js';
import { ChatView, type ChatActions } from './ChatView.js';
import { InboxView, type InboxActions } from './InboxView.js';
import { useBell } from './use-bell.js';
import { useChatSnapshot } from './use-chat-snapshot.js';
import { useTerminalSize } from './use-terminal-size.js';

/**
 * The whole TUI: the inbox, or one conversation, over one controller. Ctrl+C anywhere waits for
 * queued messages (bounded), saves, and exits; the bell rings on new messages unless turned off.
 */
export function App({
  controller,
  initialPeer,
}: {
  controller: ChatController;
  initialPeer: string | null;
}) {
  const snapshot = useChatSnapshot(controller);
  const { columns, rows } = useTerminalSize();
  const { exit } = useApp();
  const [peer, setPeer] = useState<string | null>(initialPeer);
  const [quitting, setQuitting] = useState(false);
  useBell(snapshot.arrivals, snapshot.bell);

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
  useInput((input, key) => {
    if (key.ctrl && input === 'c') quit();
  });

  const inbox: InboxActions = useMemo(
    () => ({
      open: (id) => {
        controller.openChat(id);
        setPeer(id);
      },
      openAddress: (address) => {
        const id = controller.resolve(address);
        if (id === null) return false;
        controller.openChat(id);
        setPeer(id);
        return true;
      },
      quit,
      toggleBell: () => {
        controller.toggleBell();
      },
    }),
    [controller, quit],
  );
  const chat: ChatActions | null = useMemo(
    () =>
      peer === null
        ? null
        : {
            send: (text) => controller.send(peer, text),
            retry: () => {
              controller.retry(peer);
            },
            loadOlder: () => {
              controller.loadOlder(peer);
            },
            back: () => {
              controller.closeChat();
              setPeer(null);
            },
            toggleBell: () => {
              controller.toggleBell();
            },
          },
    [controller, peer],
  );

  const height = Math.max(6, rows - 1);
  if (quitting) {
    return <Text color="yellow">Sending queued messages and saving…</Text>;
  }
  if (peer !== null && chat !== null) {
    const summary: ConversationSummary = snapshot.conversations.find((c) => c.id === peer) ?? {
      id: peer,
      name: controller.nameOf(peer),
      unread: 0,
      lastActivity: 0,
      online: false,
      lastSeen: null,
      rejected: 0,
      trust: controller.trustOf(peer),
    };
    return (
      <Box>
        <ChatView
          key={peer}
          snapshot={snapshot}
          summary={summary}
          log={snapshot.chats.get(peer)}
          width={columns}
          height={height}
          actions={chat}
        />
      </Box>
    );
  }
  return <InboxView snapshot={snapshot} width={columns} height={height} actions={inbox} />;
}
