#!/bin/sh
# Rebuild designer/static/vendor/codemirror.js, the CodeMirror 6 bundle the
# YAML pane imports, from the npm packages in package.json (versions pinned
# by package-lock.json). Maintainers only: the built file is committed, so
# users install wfdsl with pip alone and nothing is fetched at run time.
#
#   sh designer/vendor/build-codemirror.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../static/vendor"
cd "$here"
npm ci --no-audit --no-fund
mkdir -p "$out"
node build.mjs "$out/codemirror.js" meta.json
# One licence file naming every package in the bundle, with its version and licence text.
node collect-licences.js meta.json > "$out/codemirror.LICENSE.txt"
rm -f meta.json
echo "built $out/codemirror.js ($(wc -c < "$out/codemirror.js") bytes)"
