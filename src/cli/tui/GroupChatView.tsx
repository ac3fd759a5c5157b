import { Box, Text } from 'ink';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { oneLine } from '../terminal/terminal-text.js';
import type { ChatSnapshot } from './chat-state.js';
import type { GroupChat, GroupSummary } from './group-state.js';
import { GroupMembers } from './GroupMembers.js';
import { isCtrl, isKey, type Keypress } from './key-decoder.js';
import type { EditorState } from './line-editor.js';
import {
  bottomLine,
  fitWidth,
  layoutRows,
  rowLines,
  scrolled,
  windowLines,
  type ScrollAnchor,
} from './message-rows.js';
import { MessageInput, inputHeight } from './MessageInput.js';
import { MessageList } from './MessageList.js';
import { tint } from './palette.js';
import { StatusLine } from './StatusLine.js';
import { describeConnection } from './status-text.js';
import { useKeys } from './use-keys.js';
import { useLineEditor } from './use-line-editor.js';

/** What the group view can ask of the controller. */
export interface GroupChatActions {
  readonly send: (text: string) => boolean;
  readonly retry: () => void;
  readonly loadOlder: () => void;
  readonly members: () => void;
  readonly back: () => void;
}

const HINTS =
  'Enter send · Ctrl+G members · Ctrl+R retry · PgUp/PgDn scroll · Alt+Enter newline · Esc inbox · Ctrl+C quit';

/**
 * A group conversation: a header (name, my membership, members whose key changed), the messages
 * with each sender named and the membership changes as lines of their own, the editor, and a
 * status line. Ctrl+G swaps the messages for the member list (admins, each key's state) and back.
 */
export function GroupChatView({
  snapshot,
  summary,
  chat,
  width,
  height,
  actions,
  draft,
  onDraft,
}: {
  snapshot: ChatSnapshot;
  summary: GroupSummary | undefined;
  chat: GroupChat | undefined;
  width: number;
  height: number;
  actions: GroupChatActions;
  draft?: EditorState;
  onDraft?: (state: EditorState) => void;
}) {
  const [anchor, setAnchorState] = useState<ScrollAnchor | null>(null);
  const anchorRef = useRef<ScrollAnchor | null>(null);
  const [panel, setPanel] = useState(false);
  const setAnchor = useCallback((next: ScrollAnchor | null) => {
    anchorRef.current = next;
    setAnchorState(next);
  }, []);
  const submit = useCallback(
    (text: string) => {
      const sent = actions.send(text);
      if (sent) setAnchor(null);
      return sent;
    },
    [actions, setAnchor],
  );
  const editor = useLineEditor(submit, {
    ...(draft === undefined ? {} : { initial: draft }),
    ...(onDraft === undefined ? {} : { onChange: onDraft }),
  });
  const { clearNote } = editor;
  useEffect(() => {
    if (snapshot.notice !== null) clearNote();
  }, [snapshot.notice, clearNote]);

  const messages = chat?.messages ?? [];
  const lines = useMemo(() => {
    const { rows, prefix } = layoutRows(messages, { mine: 'me', theirs: '?' }, width);
    return rowLines(rows, prefix, width);
  }, [messages, width]);
  const editorRows = Math.max(1, Math.min(inputHeight(editor.state, width), height - 3));
  const listHeight = Math.max(1, height - editorRows - 2);
  const bottom = bottomLine(lines, anchor);
  const { shown, atTop } = windowLines(lines, listHeight, bottom);

  const view = useRef({ lines, listHeight });
  view.current = { lines, listHeight };
  const scroll = (by: number) => {
    const { lines: now, listHeight: rows } = view.current;
    const from = bottomLine(now, anchorRef.current);
    if (by > 0 && windowLines(now, rows, from).atTop) {
      actions.loadOlder();
      return;
    }
    setAnchor(scrolled(now, rows, from, by));
  };

  useKeys((press: Keypress) => {
    const page = Math.max(1, view.current.listHeight - 1);
    if (isKey(press, 'escape')) actions.back();
    else if (isCtrl(press, 'g')) {
      if (!panel) actions.members();
      setPanel(!panel);
    } else if (isCtrl(press, 'r')) actions.retry();
    else if (isKey(press, 'pageup')) scroll(page);
    else if (isKey(press, 'pagedown')) scroll(-page);
    else return editor.handle(press);
    return true;
  });

  const top = !atTop
    ? null
    : chat?.loadingOlder === true
      ? { text: 'loading older messages…', color: 'yellow' }
      : chat?.hasOlder === false
        ? { text: 'beginning of the group', color: 'gray' }
        : { text: 'PgUp loads older messages', color: 'gray' };
  const link = describeConnection(snapshot.connection);
  const changed = summary?.changed ?? [];
  const name = fitWidth(oneLine(summary?.name ?? 'group'), Math.max(4, Math.min(24, width - 20)));
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Box width={width} height={1} overflow="hidden">
        <Text wrap="truncate-end">
          <Text {...tint('blue')}># </Text>
          <Text bold>{name}</Text>
          {chat?.member === false ? (
            <Text {...tint('red')}> · you are no longer a member</Text>
          ) : null}
          {changed.length > 0 ? (
            <Text {...tint('red')}>
              {' '}
              · KEY CHANGED: {changed.map(oneLine).join(', ')} (blocks sending)
            </Text>
          ) : null}
          {summary !== undefined && summary.rejected > 0 ? (
            <Text {...tint('red')}> · ⚠ {summary.rejected} refused</Text>
          ) : null}
          <Text {...tint(link.color)}> · {link.text}</Text>
        </Text>
      </Box>
      {panel ? (
        <GroupMembers members={chat?.members ?? null} width={width} height={listHeight} />
      ) : (
        <MessageList lines={shown} width={width} height={listHeight} top={top} />
      )}
      <MessageInput
        state={editor.state}
        width={width}
        height={editorRows}
        placeholder="write to the group"
      />
      <StatusLine
        notice={
          editor.note === null ? snapshot.notice : { text: editor.note, tone: 'error' as const }
        }
        hint={HINTS}
        width={width}
      />
    </Box>
  );
}
