/**
 * Props that draw in `color`, or none when `NO_COLOR` is set (https://no-color.org): emphasis such
 * as bold, dim and the inverse cursor stays, only colors go. Read at each call, so a test can set
 * it. Spread into a Text: `<Text {...tint('red')}>`.
 */
export function tint(color: string | undefined): { color?: string } {
  const off = process.env['NO_COLOR'];
  if (color === undefined || (off !== undefined && off !== '')) return {};
  return { color };
}
