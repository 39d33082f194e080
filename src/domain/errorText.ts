/**
 * One line describing whatever was thrown, for a dead letter or a log: `name: message` of an
 * Error, else its string form. Never throws itself, even for values whose toString or message
 * getter throws: it is called on the paths that keep a bad record from crashing the consumer.
 */
export function errorText(err: unknown): string {
  try {
    if (err instanceof Error) return `${err.name}: ${err.message}`;
    return String(err);
  } catch (inner) {
    void inner; // the thrown value cannot describe itself; its type still says something
    return `a thrown ${typeof err} that cannot be printed`;
  }
}
