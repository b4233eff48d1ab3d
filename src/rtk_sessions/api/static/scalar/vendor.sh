#!/usr/bin/env bash
# Refresh the vendored API reference UI (served at /docs, no CDN): pin the version here,
# run this, commit standalone.js, and update the version in LICENSE and api/docs.py.
set -euo pipefail
VERSION=1.76.4
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "@scalar/api-reference@$VERSION" --silent >/dev/null && tar xzf ./*.tgz)
cp "$work/package/dist/browser/standalone.js" "$here/standalone.js"
echo "standalone.js of @scalar/api-reference $VERSION copied to $here"
