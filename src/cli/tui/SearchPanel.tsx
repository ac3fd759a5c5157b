import { Box, Text } from 'ink';
import { oneLine } from '../terminal/terminal-text.js';
import { fitWidth } from './message-rows.js';
import { MessageInput } from './MessageInput.js';
import { tint } from './palette.js';
import { hitsOf, type SearchPrompt } from './search-prompt.js';
import { shortWhen } from './status-text.js';

/** The search prompt's key hints, for the status line. */
export const SEARCH_HINTS =
  'Enter search, then open the chosen message · ↑↓ PgUp/PgDn choose · Esc back · // writes a /';

/** The rows of the result list shown around the chosen hit. */
function windowAround(count: number, selected: number, rows: number): [number, number] {
  if (count <= rows) return [0, count];
  const start = Math.max(0, Math.min(count - rows, selected - Math.floor(rows / 2)));
  return [start, start + rows];
}

/**
 * The `/` search over this device's history, in place of the conversation: the results, newest
 * first (time, conversation, the text on one line; the chosen one inverse), or what the search
 * said, and the prompt below them.
 */
export function SearchPanel({
  prompt,
  width,
  height,
}: {
  prompt: SearchPrompt;
  width: number;
  height: number;
}) {
  const rows = Math.max(1, height - 2);
  const hits = hitsOf(prompt);
  const outcome = prompt.outcome;
  let body;
  if (outcome === null) {
    body = (
      <Text dimColor wrap="wrap">
        Search this device’s history, every conversation: type words and press Enter (every word
        must occur, whole words, any case).
      </Text>
    );
  } else if ('error' in outcome) {
    body = (
      <Text {...tint('red')} wrap="wrap">
        {oneLine(outcome.error)}
      </Text>
    );
  } else if (hits.length === 0) {
    body = <Text dimColor>No message in this device’s history has those words.</Text>;
  } else {
    const [from, to] = windowAround(hits.length, prompt.selected, rows);
    body = hits.slice(from, to).map((hit, index) => {
      const chosen = from + index === prompt.selected;
      const who = hit.direction === 'outgoing' ? `me → ${hit.name}` : hit.name;
      const head = `${shortWhen(hit.time).padEnd(7)}${fitWidth(oneLine(who), 18)}: `;
      return (
        <Box key={`${hit.peer}:${hit.id}`} height={1} width={width} overflow="hidden">
          <Text inverse={chosen} wrap="truncate-end">
            {head}
            {oneLine(hit.text)}
          </Text>
        </Box>
      );
    });
  }
  const count =
    hits.length > 0
      ? `${String(prompt.selected + 1)} of ${String(hits.length)} · newest first`
      : '';
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Box flexDirection="column" height={rows} width={width} overflow="hidden">
        {body}
      </Box>
      <Box height={1} width={width} overflow="hidden">
        <Text dimColor wrap="truncate-end">
          {prompt.note ?? count}
        </Text>
      </Box>
      <Box height={1} width={width}>
        <Text {...tint('yellow')}>/</Text>
        <MessageInput
          state={prompt.editor}
          width={Math.max(3, width - 1)}
          height={1}
          placeholder="search words"
        />
      </Box>
    </Box>
  );
}
