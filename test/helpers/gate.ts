/**
 * A promise and the function that resolves it: one side of a test waits at `opened` for a point the
 * other side reaches (`open()`), such as a writer holding the lock in the middle of its transaction.
 */
export function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}
