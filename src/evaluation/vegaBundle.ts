import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** The minified browser builds a report inlines, from the installed packages (their UMD builds sit beside their entry points). */
const BUILDS = [
  ['vega', 'vega.min.js'],
  ['vega-lite', 'vega-lite.min.js'],
  ['vega-embed', 'vega-embed.min.js'],
] as const;

let cached: string | undefined;

/**
 * Vega, Vega-Lite and vega-embed as one script text to inline in a report, so that the page
 * works offline and from a file:// URL (no CDN). About 0.8 MB; read once per process.
 */
export function vegaScripts(): string {
  cached ??= BUILDS.map(([pkg, file]) => {
    const text = readFileSync(join(dirname(require.resolve(pkg)), file), 'utf8');
    // The source maps are not shipped with the report; a dangling reference would only make devtools fetch.
    return text.replace(/\/\/# sourceMappingURL=\S+\s*$/, '');
  }).join('\n;\n');
  return cached;
}
