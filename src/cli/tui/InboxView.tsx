import { Box, Text } from 'ink';
import { useCallback, useMemo, useRef, useState } from 'react';
import type { ChatSnapshot, ConversationSummary } from './chat-state.js';
import { GroupInboxEntry } from './GroupInboxEntry.js';
import { inboxItems, type InboxItem } from './inbox-items.js';
import { graphemes } from './graphemes.js';
import { isKey, type Keypress } from './key-decoder.js';
import { MessageInput } from './MessageInput.js';
import { fitWidth } from './message-rows.js';
import { tint } from './palette.js';
import { StatusLine } from './StatusLine.js';
import { describeConnection, describePresence, shortWhen } from './status-text.js';
import { useKeys } from './use-keys.js';
import { useLineEditor } from './use-line-editor.js';

/** What the inbox can ask of the app. */
export interface InboxActions {
  readonly open: (peer: string) => void;
  /**
   * Opens a chat from what the user typed after `n`. False (with a notice) if it names nobody; a
   * promise when a fingerprint must be checked against the relay's key first.
   */
  readonly openAddress: (address: string) => boolean | Promise<boolean>;
  readonly quit: () => void;
  readonly toggleBell: () => void;
}

const HINTS = '↑↓ move · Enter open · n new chat · b bell · q quit';

/** Widths the unread count and the time keep on any terminal. */
const UNREAD_WIDTH = 10;
const TIME_WIDTH = 12;

function Entry({
  entry,
  selected,
  width,
  mine,
}: {
  entry: ConversationSummary;
  selected: boolean;
  width: number;
  mine: boolean;
}) {
  const presence = mine ? '' : describePresence(entry);
  const changed = entry.trust === 'changed';
  // The name gives way first: unread count, time and a changed key always fit.
  const nameWidth = Math.max(
    6,
    Math.min(24, width - 4 - UNREAD_WIDTH - TIME_WIDTH - (changed ? 14 : 0)),
  );
  const dot = mine ? '✎ ' : entry.online ? '● ' : '○ ';
  return (
    <Box width={width} height={1} overflow="hidden">
      <Text wrap="truncate-end">
        <Text {...tint('cyan')}>{selected ? '› ' : '  '}</Text>
        <Text {...tint(entry.online ? 'green' : 'gray')}>{dot}</Text>
        <Text bold={entry.unread > 0} inverse={selected}>
          {fitWidth(entry.name, nameWidth).padEnd(nameWidth)}
        </Text>
        {entry.lookalike === undefined ? null : (
          <Text {...tint('red')}> ⚠ looks like {entry.lookalike}</Text>
        )}
        <Text {...tint('yellow')}>
          {(entry.unread > 0 ? ` (${String(entry.unread)} new)` : '').padEnd(UNREAD_WIDTH)}
        </Text>
        <Text dimColor> {shortWhen(entry.lastActivity)}</Text>
        {changed ? <Text {...tint('red')}> · KEY CHANGED</Text> : null}
        {entry.rejected > 0 ? (
          <Text {...tint('red')}> · ⚠ {entry.rejected} unverifiable</Text>
        ) : null}
        {presence ? <Text dimColor> · {presence}</Text> : null}
      </Text>
    </Box>
  );
}

/**
 * The inbox: conversations by last activity with unread counts, presence and names; ↑↓ and Enter
 * open one, `n` asks for an identifier (or alias, or id#fingerprint) to start a new one, `q` quits.
 * The selection follows a conversation (not a place in the list), starting on `focus`: the one
 * just left.
 */
export function InboxView({
  snapshot,
  width,
  height,
  actions,
  focus = null,
}: {
  snapshot: ChatSnapshot;
  width: number;
  height: number;
  actions: InboxActions;
  focus?: string | null;
}) {
  // Groups among the conversations, by activity; a group's id is `group:<id>` (group-state.ts).
  const list = useMemo(
    () => inboxItems(snapshot.conversations, snapshot.groups ?? []),
    [snapshot.conversations, snapshot.groups],
  );
  const [selectedId, setSelectedState] = useState<string | null>(focus);
  const selection = useRef<string | null>(focus);
  const listRef = useRef(list);
  listRef.current = list;
  const select = (id: string | null) => {
    selection.current = id;
    setSelectedState(id);
  };
  const [asking, setAskingState] = useState(false);
  const askingRef = useRef(false);
  const setAsking = (value: boolean) => {
    askingRef.current = value;
    setAskingState(value);
  };
  const submit = useCallback(
    (text: string) => {
      const opened = actions.openAddress(text.trim());
      if (opened === true) {
        askingRef.current = false;
        setAskingState(false);
      }
      // A fingerprint being checked keeps the draft until the chat opens (or is refused).
      return opened === true;
    },
    [actions],
  );
  const editor = useLineEditor(submit);
  const indexOf = (id: string | null, of: readonly InboxItem[]) =>
    Math.max(
      0,
      of.findIndex((entry) => entry.id === id),
    );
  const index = Math.min(indexOf(selectedId, list), Math.max(0, list.length - 1));
  const listHeight = Math.max(1, height - 3);
  const start = Math.max(0, index - listHeight + 1);

  /** One command key of the inbox (text typed here is a run of them: `jjn…`). */
  const command = (press: Keypress): void => {
    const now = listRef.current;
    const at = Math.min(indexOf(selection.current, now), Math.max(0, now.length - 1));
    const letter = press.kind === 'text' ? press.text : '';
    if (isKey(press, 'up') || letter === 'k') select(now[Math.max(0, at - 1)]?.id ?? null);
    else if (isKey(press, 'down') || letter === 'j') {
      select(now[Math.min(now.length - 1, at + 1)]?.id ?? null);
    } else if (isKey(press, 'return')) {
      const entry = now[at];
      if (entry) actions.open(entry.id);
    } else if (letter === 'n') setAsking(true);
    else if (letter === 'b') actions.toggleBell();
    else if (letter === 'q') actions.quit();
  };

  useKeys((press) => {
    if (askingRef.current) {
      if (isKey(press, 'escape')) setAsking(false);
      else return editor.handle(press);
      return true;
    }
    if (press.kind !== 'text') {
      command(press);
      return true;
    }
    // Keys typed together: each is a command until `n`, and what follows it is the address.
    const chars = graphemes(press.text);
    const asked = () => askingRef.current;
    for (let i = 0; i < chars.length; i++) {
      command({ kind: 'text', text: chars[i] ?? '' });
      if (asked()) {
        const rest = chars.slice(i + 1).join('');
        if (rest !== '') editor.handle({ kind: 'text', text: rest });
        break;
      }
    }
    return true;
  });

  const link = describeConnection(snapshot.connection);
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Box height={1} width={width} overflow="hidden">
        <Text wrap="truncate-end">
          <Text bold>MetaChat</Text>
          <Text dimColor>
            {' '}
            · {snapshot.me.username} ({snapshot.me.identifier.slice(0, 12)})
          </Text>
          <Text {...tint(link.color)}> · {link.text}</Text>
          <Text dimColor> · bell {snapshot.bell ? 'on' : 'off'}</Text>
        </Text>
      </Box>
      <Box height={listHeight} flexDirection="column" overflow="hidden">
        {list.length === 0 ? (
          <Text dimColor>
            {snapshot.connection.status === 'connected'
              ? 'No conversations yet: press n and give a peer’s identifier.'
              : `Not connected to the relay (${link.text}): conversations appear once it answers; n still starts one.`}
          </Text>
        ) : (
          list
            .slice(start, start + listHeight)
            .map((item, offset) =>
              item.kind === 'group' ? (
                <GroupInboxEntry
                  key={item.id}
                  entry={item.entry}
                  selected={start + offset === index}
                  width={width}
                />
              ) : (
                <Entry
                  key={item.id}
                  entry={item.entry}
                  selected={start + offset === index}
                  width={width}
                  mine={item.id === snapshot.me.identifier}
                />
              ),
            )
        )}
      </Box>
      {asking ? (
        <MessageInput
          state={editor.state}
          width={width}
          height={1}
          placeholder="identifier, id#fingerprint, alias or name; Esc cancels"
        />
      ) : (
        <Text dimColor> </Text>
      )}
      <StatusLine
        notice={editor.note === null ? snapshot.notice : { text: editor.note, tone: 'error' }}
        hint={HINTS}
        width={width}
      />
    </Box>
  );
}
