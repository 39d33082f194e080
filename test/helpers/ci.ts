/**
 * Whether this is a CI run (`CI` set). There a missing tool, server, browser or data set is a
 * broken runner: what would skip elsewhere fails. The one reader of `CI` in the test helpers.
 */
export function onCi(): boolean {
  const v = process.env['CI'];
  return v !== undefined && v !== '';
}
