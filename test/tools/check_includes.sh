#!/bin/sh
# check_includes.sh - every quoted #include under milter/ names its folder
# and points down the layers of DESIGN.md "Layout": base <- auth <- policy
# <- store (the DMARC history, beside policy: may include policy, auth,
# base) <- daemon and tools (each may include store, policy, auth, base;
# each folder its own). Fails listing each include that points up or
# sideways, names no folder or an unknown one, and each file outside the
# layer folders. Angle-bracket includes (system, libraries) are not looked
# at. Prints TAP; while milter/ is still flat (no milter/base) there is
# nothing to check and it says so.
#   top_srcdir=dir   the source tree (default: two levels above this script)
top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
cd "$top_srcdir" || exit 1
if [ ! -d milter/base ]; then
	echo "1..0 # SKIP milter/ is not grouped into layer folders yet (no milter/base): no include to check"
	exit 0
fi

# The layer map: each folder, then what it may include (itself first).
layers='base: base; auth: auth base; policy: policy auth base;
store: store policy auth base;
daemon: daemon store policy auth base; tools: tools store policy auth base'

files=$(find milter -type f \( -name '*.c' -o -name '*.h' \) | sort)
bad=$(awk -v layers="$(printf '%s' "$layers" | tr '\n' ' ')" '
	BEGIN { n = split(layers, row, ";")
		for (r = 1; r <= n; r++) {
			k = split(row[r], w, "[: ]+"); i = (w[1] == "") ? 2 : 1
			dir = w[i]; known[dir] = 1
			for (j = i + 1; j <= k; j++) if (w[j] != "") {
				may[dir, w[j]] = 1
				list[dir] = list[dir] (list[dir] == "" ? "" : ", ") w[j] "/"
			}
		} }
	FNR == 1 { n = split(FILENAME, p, "/"); dir = (n > 2) ? p[2] : ""
		if (dir == "")
			print FILENAME ": not in a layer folder (base, auth, policy, store, daemon, tools)"
		else if (!(dir in known))
			print FILENAME ": folder " dir "/ is not in the layer map" }
	/^[ \t]*#[ \t]*include[ \t]*"/ {
		inc = $0; sub(/^[^"]*"/, "", inc); sub(/".*$/, "", inc)
		where = FILENAME ":" FNR ": #include \"" inc "\""
		if (index(inc, "/") == 0) { print where ": names no folder"; next }
		to = substr(inc, 1, index(inc, "/") - 1)
		if (!(to in known)) { print where ": " to "/ is not a layer folder"; next }
		if ((dir in known) && !((dir, to) in may))
			print where ": points up or sideways (" dir "/ may include " list[dir] ")"
	}' $files)

echo "1..1"
if [ -z "$bad" ]; then
	echo "ok 1 - every quoted include under milter/ names its folder and points down"
	exit 0
fi
echo "not ok 1 - $(printf '%s\n' "$bad" | wc -l) includes or files break the layer map (DESIGN.md Layout)"
printf '%s\n' "$bad" | sed 's/^/# /'
exit 1
