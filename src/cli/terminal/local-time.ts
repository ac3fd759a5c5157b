/** How times are shown, in the user's local time zone: the chat screen and the scriptable commands alike. */

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** Local HH:MM, as every line shows it. */
export function clockTime(time: number): string {
  const date = new Date(time);
  return `${pad2(date.getHours())}:${pad2(date.getMinutes())}`;
}

/** Local YYYY-MM-DD HH:MM, for the scriptable commands' human output. */
export function localDateTime(time: number): string {
  const date = new Date(time);
  return `${String(date.getFullYear())}-${pad2(date.getMonth() + 1)}-${pad2(date.getDate())} ${clockTime(time)}`;
}

/** A local calendar day, for the separators between days. */
export function dayLabel(time: number): string {
  return new Date(time).toLocaleDateString('en-GB', {
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
  });
}
