import { Box, useInput } from 'ink';
import { useCallback, useMemo, useState } from 'react';
import type { ChatLog, ChatSnapshot, ConversationSummary } from './chat-state.js';
import { ChatHeader } from './ChatHeader.js';
import { layoutRows, visibleRows, type ChatRow } from './message-rows.js';
import { MessageInput, inputHeight } from './MessageInput.js';
import { MessageList } from './MessageList.js';
import { StatusLine } from './StatusLine.js';
import { useLineEditor } from './use-line-editor.js';

/** What the chat view can ask of the controller. */
export interface ChatActions {
  readonly send: (text: string) => boolean;
  readonly retry: () => void;
  readonly loadOlder: () => void;
  readonly back: () => void;
  readonly toggleBell: () => void;
}

const HINTS =
  'Enter send · Alt+Enter/Ctrl+J newline · ↑↓ recall · PgUp/PgDn scroll · Ctrl+R retry · Ctrl+B bell · Esc inbox · Ctrl+C quit';

/** The index just past the bottom row shown: the anchor row, or the end when following new messages. */
function bottomOf(rows: readonly ChatRow[], anchor: string | null): number {
  if (anchor === null) return rows.length;
  const index = rows.findIndex((row) => row.key === anchor);
  return index < 0 ? rows.length : index + 1;
}

/** The anchor one page up or down from `bottom`, or null once back at the newest message. */
function pageFrom(
  rows: readonly ChatRow[],
  bottom: number,
  page: number,
  up: boolean,
): string | null {
  let index = bottom;
  let moved = 0;
  if (up) {
    while (index > 1 && moved < page) {
      index--;
      moved += rows[index]?.height ?? 1;
    }
  } else {
    while (index < rows.length && moved < page) {
      moved += rows[index]?.height ?? 1;
      index++;
    }
  }
  return index >= rows.length ? null : (rows[index - 1]?.key ?? null);
}

/**
 * One conversation: the header, a windowed message list that PageUp scrolls (loading older history
 * from the relay at the top), the editor, and a status line for notices and key hints.
 */
export function ChatView({
  snapshot,
  summary,
  log,
  width,
  height,
  actions,
}: {
  snapshot: ChatSnapshot;
  summary: ConversationSummary;
  log: ChatLog | undefined;
  width: number;
  height: number;
  actions: ChatActions;
}) {
  const [anchor, setAnchor] = useState<string | null>(null);
  const submit = useCallback(
    (text: string) => {
      const sent = actions.send(text);
      if (sent) setAnchor(null);
      return sent;
    },
    [actions],
  );
  const editor = useLineEditor(submit);
  const messages = log?.messages ?? [];
  const { rows, prefix } = useMemo(
    () => layoutRows(messages, { mine: snapshot.me.username || 'me', theirs: summary.name }, width),
    [messages, snapshot.me.username, summary.name, width],
  );
  const editorRows = inputHeight(editor.state, width);
  const listHeight = Math.max(3, height - editorRows - 2);
  const bottom = bottomOf(rows, anchor);
  const { shown, atTop } = visibleRows(rows, listHeight - 1, rows.length - bottom);
  const newer = rows.length - bottom;

  useInput((input, key) => {
    if (key.escape) {
      actions.back();
      return;
    }
    if (key.pageUp) {
      if (atTop) actions.loadOlder();
      else setAnchor(pageFrom(rows, bottom, Math.max(1, listHeight - 2), true));
      return;
    }
    if (key.pageDown) {
      setAnchor(pageFrom(rows, bottom, Math.max(1, listHeight - 2), false));
      return;
    }
    if (key.ctrl && input === 'r') {
      actions.retry();
      return;
    }
    if (key.ctrl && input === 'b') {
      actions.toggleBell();
      return;
    }
    editor.handle(input, key);
  });

  const top = !atTop
    ? null
    : log?.loadingOlder === true
      ? { text: 'loading older messages…', color: 'yellow' }
      : log?.hasOlder === false
        ? { text: 'beginning of the conversation', color: 'gray' }
        : { text: 'PgUp loads older messages', color: 'gray' };
  return (
    <Box flexDirection="column" width={width}>
      <ChatHeader summary={summary} connection={snapshot.connection} width={width} />
      <MessageList rows={shown} prefix={prefix} width={width} height={listHeight} top={top} />
      <MessageInput state={editor.state} width={width} placeholder="write a message" />
      <StatusLine
        notice={snapshot.notice}
        hint={newer > 0 ? `↓ ${newer} newer below (PgDn) · ${HINTS}` : HINTS}
        width={width}
      />
    </Box>
  );
}
