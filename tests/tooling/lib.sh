# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The gistd authors
#
# Shared by the scripts of tests/tooling (bash; sourced, not run): TAP
# counters and the copy of the source tree that an out-of-tree build needs.

n=0
failed=0

tap_ok() { n=$((n + 1)); echo "ok $n - $*"; }
tap_not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
# The end of a log as TAP diagnostics.
diag_tail() { tail -n "${2:-30}" "$1" | sed 's/^/# /'; }

# Copies the sources of the tree at $1 to $2 and runs autoreconf there,
# logging to $3.  automake refuses to build out of a source directory
# that is configured in place, so the copy leaves out build products: the
# files git tracks plus the untracked ones it does not ignore, or, without
# git, everything followed by "make distclean".  build-tooling (where these
# scripts work by default) is never copied.
tooling_copy_tree() {
	local from=$1 to=$2 log=$3

	: >"$log"
	rm -rf "$to" && mkdir -p "$to" || return 1
	if git -C "$from" rev-parse --git-dir >/dev/null 2>&1; then
		(cd "$from" && git ls-files -z --cached --others \
		    --exclude-standard |
		    while IFS= read -r -d '' f; do
			case $f in build-tooling/*) continue ;; esac
			[ -e "$f" ] && printf '%s\0' "$f"
		    done | tar --null -T - -cf -) | tar -C "$to" -xf - ||
		    return 1
	else
		(cd "$from" && tar --exclude=./build-tooling -cf - .) |
		    tar -C "$to" -xf - || return 1
		if [ -f "$to/config.status" ]; then
			make -C "$to" distclean >>"$log" 2>&1 || return 1
		fi
	fi
	(cd "$to" && autoreconf -fi) >>"$log" 2>&1
}

# A private TMPDIR for the scenarios, whose temporary directories would
# otherwise share /tmp with whatever else runs there (and its clean-ups).
# Prints its path; a short one, since it holds AF_UNIX socket paths.
tooling_scratch() {
	mktemp -d "/tmp/tooling-$1.XXXXXX"
}
