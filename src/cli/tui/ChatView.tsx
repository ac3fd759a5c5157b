import { Box, Text } from 'ink';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { SearchHit, SearchOutcome } from './chat-cache.js';
import { cacheNote } from './cache-status.js';
import { foldChat, type ShownMessage } from './chat-fold.js';
import { composeBanner, composedBody, type ComposeMode } from './compose-mode.js';
import type { MessageBody } from '../outgoing/compose.js';
import type { ChatLog, ChatSnapshot, ConversationSummary } from './chat-state.js';
import { ChatHeader } from './ChatHeader.js';
import { DRAFT_MAX_BYTES, draftBytes, kib } from '../outgoing/draft-text.js';
import { isCtrl, isKey, type Keypress } from './key-decoder.js';
import type { EditorState } from './line-editor.js';
import {
  bottomLine,
  layoutRows,
  rowLines,
  scrolled,
  windowLines,
  type ScrollAnchor,
} from './message-rows.js';
import { MessageInput, inputHeight } from './MessageInput.js';
import { MessageList } from './MessageList.js';
import { anchorAt, highlighted } from './message-focus.js';
import { SEARCH_HINTS, SearchPanel } from './SearchPanel.js';
import { useChatSearch } from './use-chat-search.js';
import { useCompose } from './use-compose.js';
import { tint } from './palette.js';
import { StatusLine } from './StatusLine.js';
import { useKeys } from './use-keys.js';
import { useLineEditor } from './use-line-editor.js';

/** What the chat view can ask of the controller. */
export interface ChatActions {
  /** Sends a text, or a reply or edit body. */
  readonly send: (content: string | MessageBody) => boolean;
  readonly retry: () => void;
  readonly loadOlder: () => void;
  readonly back: () => void;
  readonly toggleBell: () => void;
  /** `/`: searches this device's history. */
  readonly search: (words: string) => SearchOutcome;
  /** Opens a search result's conversation at it. */
  readonly openAt: (hit: SearchHit) => void;
}

const HINTS =
  '/ search · Tab select (r reply, e edit) · ↑ on empty draft edits my last · Enter send · Alt+Enter/Ctrl+J newline · ↑↓ recall · PgUp/PgDn, Shift+↑↓ scroll · Ctrl+R retry · Ctrl+B bell · Ctrl+L redraw · Esc inbox · Ctrl+C quit';

const SELECT_HINTS =
  '↑↓ choose a message · r or Enter reply · e edit (mine) · Esc or Tab back to the draft';

/** From this many bytes on, the status line shows how much of the message limit the draft uses. */
const BUDGET_SHOWN_FROM = DRAFT_MAX_BYTES * 0.75;

/**
 * One conversation: the header, a windowed message list scrolled by line (PageUp a page, Shift or
 * Ctrl with ↑↓ a line; PageUp at the top loads older history from the relay), the editor, and a
 * status line for notices, the message budget near its limit, and key hints.
 */
export function ChatView({
  snapshot,
  summary,
  log,
  width,
  height,
  actions,
  draft,
  onDraft,
  focus,
}: {
  snapshot: ChatSnapshot;
  summary: ConversationSummary;
  log: ChatLog | undefined;
  width: number;
  height: number;
  actions: ChatActions;
  /** The draft this conversation had when it was left, and where to keep it. */
  draft?: EditorState;
  onDraft?: (state: EditorState) => void;
  /** The message to open at (a search result): scrolled to and highlighted. */
  focus?: string | undefined;
}) {
  const [anchor, setAnchorState] = useState<ScrollAnchor | null>(null);
  const anchorRef = useRef<ScrollAnchor | null>(null);
  const setAnchor = useCallback((next: ScrollAnchor | null) => {
    anchorRef.current = next;
    setAnchorState(next);
  }, []);
  /** The edit or reply the draft is for, as the last key left it (set once compose exists). */
  const modeNow = useRef<() => ComposeMode | null>(() => null);
  const onSent = useRef<() => void>(() => undefined);
  const submit = useCallback(
    (text: string) => {
      const sent = actions.send(composedBody(modeNow.current(), text));
      if (sent) {
        setAnchor(null);
        onSent.current();
      }
      return sent;
    },
    [actions, setAnchor],
  );
  const editor = useLineEditor(submit, {
    ...(draft === undefined ? {} : { initial: draft }),
    ...(onDraft === undefined ? {} : { onChange: onDraft }),
  });
  const { clearNote } = editor;
  const search = useChatSearch({
    search: actions.search,
    open: actions.openAt,
    draft: (text) => editor.handle({ kind: 'text', text }),
  });
  useEffect(() => {
    // A newer notice from the controller takes the status line back from the editor's word.
    if (snapshot.notice !== null) clearNote();
  }, [snapshot.notice, clearNote]);

  const messages = log?.messages;
  const me = snapshot.me.identifier;
  const folded: ShownMessage[] = useMemo(
    () => foldChat(messages ?? [], me, summary.id),
    [messages, me, summary.id],
  );
  const names = useMemo(
    () => ({ mine: snapshot.me.username || 'me', theirs: summary.name }),
    [snapshot.me.username, summary.name],
  );
  const lines = useMemo(() => {
    const { rows, prefix } = layoutRows(folded, names, width);
    return rowLines(rows, prefix, width);
  }, [folded, names, width]);
  const compose = useCompose({
    messages: () => view.current.folded,
    draft: () => editor.read().text,
    setDraft: editor.set,
    scrollTo: (id) => {
      const at = anchorAt(view.current.lines, id, view.current.listHeight);
      if (at !== undefined) setAnchor(at.anchor);
    },
  });
  modeNow.current = compose.modeNow;
  onSent.current = compose.sent;
  const banner = compose.mode === null ? null : composeBanner(compose.mode, names);
  const editorRows = Math.max(1, Math.min(inputHeight(editor.state, width), height - 3));
  const listHeight = Math.max(1, height - editorRows - 2 - (banner === null ? 0 : 1));
  const bottom = bottomLine(lines, anchor);
  const { shown, atTop } = windowLines(lines, listHeight, bottom);
  const focused = useRef(false);
  useEffect(() => {
    // Once the message opened at is among the lines: scrolled to the middle, once.
    if (focus === undefined || focused.current) return;
    const at = anchorAt(lines, focus, listHeight);
    if (at === undefined) return;
    focused.current = true;
    setAnchor(at.anchor);
  }, [focus, lines, listHeight, setAnchor]);
  const newer = lines.length - bottom;

  // Read at key time: several keys of one chunk must each see where the one before scrolled to.
  const view = useRef({ lines, listHeight, folded });
  view.current = { lines, listHeight, folded };
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
    if (search.active()) return search.handle(press, page);
    if (compose.handle(press)) return true;
    if (press.kind === 'text' && press.text.startsWith('/') && editor.read().text === '') {
      // `/` on an empty draft searches; `//` writes a `/`.
      if (press.text.startsWith('//'))
        return editor.handle({ ...press, text: press.text.slice(1) });
      search.start(press.text.slice(1));
    } else if (isKey(press, 'escape')) actions.back();
    else if (isKey(press, 'pageup')) scroll(page);
    else if (isKey(press, 'pagedown')) scroll(-page);
    else if (press.kind === 'key' && (press.name === 'up' || press.name === 'down')) {
      if (!(press.shift || press.ctrl || press.meta)) return editor.handle(press);
      scroll(press.name === 'up' ? 1 : -1);
    } else if (isCtrl(press, 'r')) actions.retry();
    else if (isCtrl(press, 'b')) actions.toggleBell();
    else return editor.handle(press);
    return true;
  });

  const top = !atTop
    ? null
    : log?.loadingOlder === true
      ? { text: 'loading older messages…', color: 'yellow' }
      : log?.hasOlder === false
        ? { text: 'beginning of the conversation', color: 'gray' }
        : { text: 'PgUp loads older messages', color: 'gray' };
  const bytes = draftBytes(editor.state.text);
  const budget =
    bytes >= BUDGET_SHOWN_FROM ? `${kib(bytes)} of ${kib(DRAFT_MAX_BYTES)} used · ` : '';
  const hint =
    search.prompt !== null
      ? SEARCH_HINTS
      : compose.selected !== null
        ? SELECT_HINTS
        : `${newer > 0 ? `↓ ${String(newer)} lines below (PgDn) · ` : ''}${HINTS}`;
  const cache = cacheNote(log, snapshot.connection);
  const lead = `${cache === null ? '' : `${cache} · `}${budget}`;
  return (
    <Box flexDirection="column" width={width} height={height}>
      <ChatHeader
        summary={summary}
        connection={snapshot.connection}
        width={width}
        me={snapshot.me.identifier}
      />
      {search.prompt !== null ? (
        <SearchPanel prompt={search.prompt} width={width} height={listHeight + editorRows} />
      ) : (
        <>
          <MessageList
            lines={
              (compose.selected ?? focus) === undefined
                ? shown
                : highlighted(shown, compose.selected ?? focus)
            }
            width={width}
            height={listHeight}
            top={top}
          />
          {banner === null ? null : (
            <Box height={1} width={width} overflow="hidden">
              <Text {...tint('yellow')} wrap="truncate-end">
                {banner}
              </Text>
            </Box>
          )}
          <MessageInput
            state={editor.state}
            width={width}
            height={editorRows}
            placeholder="write a message"
          />
        </>
      )}
      <StatusLine
        notice={
          editor.note === null ? snapshot.notice : { text: editor.note, tone: 'error' as const }
        }
        hint={hint}
        width={width}
        lead={lead === '' ? undefined : lead}
      />
    </Box>
  );
}
