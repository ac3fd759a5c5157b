const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Splits text into what a user sees as characters (an emoji with its modifiers is one), for cursor moves. */
export function graphemes(text: string): string[] {
  return Array.from(segmenter.segment(text), (part) => part.segment);
}
