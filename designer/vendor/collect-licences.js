// Print the licence of every npm package whose code esbuild put in the
// bundle (read from its metafile): name, version, licence text.
const fs = require("fs");
const path = require("path");
const meta = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const packages = new Map();
for (const input of Object.keys(meta.inputs)) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  if (m) packages.set(m[1], path.join("node_modules", m[1]));
}
const out = [
  "designer/static/vendor/codemirror.js bundles these packages (built by",
  "designer/vendor/build-codemirror.sh). Their licences follow.",
  "",
];
for (const [name, dir] of [...packages].sort()) {
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  const file = fs.readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
  out.push("=".repeat(72), `${name} ${pkg.version} (${pkg.license})`, "=".repeat(72));
  out.push(file ? fs.readFileSync(path.join(dir, file), "utf8").trim() : `licence: ${pkg.license} (no licence file shipped)`, "");
}
process.stdout.write(out.join("\n"));
