import { Box, Text } from 'ink';
import type { ChatLine } from './message-rows.js';
import { tint } from './palette.js';

/**
 * The windowed conversation: exactly `height` rows, each one screen line already wrapped to fit,
 * so a message taller than the screen scrolls line by line and nothing is ever drawn past the
 * terminal's last row; a line at the top says what is above when the first line is shown.
 */
export function MessageList({
  lines,
  width,
  height,
  top,
}: {
  lines: readonly ChatLine[];
  width: number;
  height: number;
  top: { text: string; color: string } | null;
}) {
  const blank = Math.max(0, height - lines.length - (top ? 1 : 0));
  return (
    <Box height={height} width={width} flexDirection="column" overflow="hidden">
      {top ? (
        <Box height={1} width={width} overflow="hidden">
          <Text {...tint(top.color)} dimColor wrap="truncate-end">
            {top.text}
          </Text>
        </Box>
      ) : null}
      {blank > 0 ? <Box height={blank} /> : null}
      {lines.map((line) => (
        <Box key={`${line.row}:${String(line.index)}`} height={1} width={width} overflow="hidden">
          <Text wrap="truncate-end">
            {line.spans.map((span, index) => (
              <Text
                key={index}
                {...tint(span.color)}
                bold={span.bold === true}
                dimColor={span.dim === true}
                inverse={span.inverse === true}
              >
                {span.text}
              </Text>
            ))}
          </Text>
        </Box>
      ))}
    </Box>
  );
}
