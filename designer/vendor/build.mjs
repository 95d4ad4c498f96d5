// esbuild step of build-codemirror.sh: bundle codemirror-entry.js into one
// ES module, with one change to style-mod (CodeMirror's style injector).
//
// style-mod puts CodeMirror's own CSS in a <style> element unless the
// editor lives in a shadow root. The designer's Content-Security-Policy
// (style-src 'self', no inline styles) refuses such an element, so the
// editor would be unstyled. Constructable stylesheets (document.
// adoptedStyleSheets, in every current browser) are not inline styles: the
// patch makes style-mod use them for the document too.
import { build } from "esbuild";
import { readFile } from "node:fs/promises";

const PATTERN = "if (!root.head && root.adoptedStyleSheets && win.CSSStyleSheet) {";
const PATCHED = "if (root.adoptedStyleSheets && win.CSSStyleSheet) {";

const csp = {
  name: "style-mod-csp",
  setup(b) {
    b.onLoad({ filter: /style-mod[\\/]src[\\/]style-mod\.js$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      if (!source.includes(PATTERN)) throw new Error(`style-mod changed: '${PATTERN}' not found in ${args.path}; revisit the CSP patch`);
      return { contents: source.replace(PATTERN, PATCHED), loader: "js" };
    });
  },
};

const [outfile, metafile] = process.argv.slice(2);
const result = await build({
  entryPoints: ["codemirror-entry.js"],
  bundle: true,
  format: "esm",
  minify: true,
  target: "es2020",
  legalComments: "none",
  metafile: true,
  outfile,
  plugins: [csp],
  logLevel: "info",
});
const { writeFile } = await import("node:fs/promises");
await writeFile(metafile, JSON.stringify(result.metafile));
