import { useMemo } from 'react';
import type { ChatController } from './chat-controller.js';
import type { ChatSnapshot } from './chat-state.js';
import { GroupChatView, type GroupChatActions } from './GroupChatView.js';
import type { EditorState } from './line-editor.js';

/** One group's conversation over the controller's group desk: the app's glue for GroupChatView. */
export function GroupScreen({
  controller,
  group,
  snapshot,
  width,
  height,
  onBack,
  draft,
  onDraft,
}: {
  controller: ChatController;
  group: string;
  snapshot: ChatSnapshot;
  width: number;
  height: number;
  onBack: () => void;
  draft?: EditorState;
  onDraft: (state: EditorState) => void;
}) {
  const actions: GroupChatActions = useMemo(
    () => ({
      send: (text) => controller.groups.send(group, text),
      retry: () => {
        controller.groups.retry(group);
      },
      loadOlder: () => {
        controller.groups.loadOlder(group);
      },
      members: () => {
        controller.groups.members(group);
      },
      back: onBack,
    }),
    [controller, group, onBack],
  );
  return (
    <GroupChatView
      snapshot={snapshot}
      summary={snapshot.groups?.find((entry) => entry.group === group)}
      chat={snapshot.groupChats?.get(group)}
      width={width}
      height={height}
      actions={actions}
      {...(draft === undefined ? {} : { draft })}
      onDraft={onDraft}
    />
  );
}
