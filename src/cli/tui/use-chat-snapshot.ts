import { useSyncExternalStore } from 'react';
import type { ChatController } from './chat-controller.js';
import type { ChatSnapshot } from './chat-state.js';

/** Re-renders on each new snapshot of the controller (and only then). */
export function useChatSnapshot(controller: ChatController): ChatSnapshot {
  return useSyncExternalStore(controller.subscribe, controller.getSnapshot);
}
