#!/bin/sh
# Runs shellcheck over every tracked shell script: *.sh, files whose first
# line is a sh/bash shebang, and the bash completion. Files without a
# shebang (the drop-in sections sourced by run.sh, the completion) are bash.
# Findings of severity warning and error fail; info and style notes
# (quoting we rely on for word splitting, single-quoted code for bash -c)
# are not checked (docs/CONVENTIONS.md).
set -eu
cd "$(dirname "$0")/.."
command -v shellcheck >/dev/null || { echo "shellcheck missing: run contrib/install-deps.sh" >&2; exit 1; }
fail=0
n=0
for f in $(git ls-files); do
	[ -f "$f" ] || continue
	first=$(head -n 1 "$f" 2>/dev/null | tr -d '\0')
	case "$f" in
	*.sh | contrib/completions/bash/*) ;;
	*) case "$first" in '#!'*/sh | '#!'*/bash | '#!'*'env sh' | '#!'*'env bash') ;; *) continue ;; esac ;;
	esac
	n=$((n + 1))
	case "$first" in
	'#!'*) shellcheck -S warning "$f" || fail=1 ;;
	*) shellcheck -S warning -s bash "$f" || fail=1 ;;
	esac
done
echo "shellcheck: $n scripts"
exit $fail
