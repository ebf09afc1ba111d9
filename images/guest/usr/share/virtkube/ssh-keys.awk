# SSH public keys of cloud-config user-data, one "USER<TAB>KEY" line each (busybox awk):
# the top-level `ssh_authorized_keys` (the default user, root here) and each
# `users[].ssh_authorized_keys` (for that entry's `name`; the entry `default` is root).
# Block lists (`- key`, indented or not) and flow lists (`[a, b]`) of one-line keys.
function unquote(v) {
	sub(/^[ \t]+/, "", v)
	sub(/[ \t]+$/, "", v)
	if (v ~ /^".*"$/ || v ~ /^'.*'$/)
		v = substr(v, 2, length(v) - 2)
	return v
}
function add(v) {
	v = unquote(v)
	if (v != "") {
		nkeys++
		owner[nkeys] = entry
		key[nkeys] = v
	}
}
BEGIN { entry = 0; entries = 0; inusers = 0; inkeys = 0 }
{
	line = $0
	sub(/\r$/, "", line)
	if (line ~ /^[ \t]*(#|$)/)
		next
	match(line, /^ */)
	ind = RLENGTH
	body = substr(line, ind + 1)
	if (inkeys) {
		if (ind >= keyind && body ~ /^- /) {
			add(substr(body, 3))
			next
		}
		inkeys = 0
	}
	if (ind == 0) {
		inusers = (body ~ /^users:/)
		entry = 0
	}
	if (inusers && ind > 0 && body ~ /^- /) {
		# a new users[] entry: "- name: x", "- default" or "- ssh_authorized_keys: ..."
		entries++
		entry = entries
		body = substr(body, 3)
		ind += 2
		if (body !~ /:/)
			name[entry] = unquote(body)
	}
	if (inusers && entry && body ~ /^name:/)
		name[entry] = unquote(substr(body, 6))
	if (body ~ /^ssh_authorized_keys:/) {
		rest = unquote(substr(body, 21))
		if (rest ~ /^\[/) {
			gsub(/^\[|\]$/, "", rest)
			n = split(rest, items, ",")
			for (i = 1; i <= n; i++)
				add(items[i])
		} else if (rest != "") {
			add(rest)
		} else {
			inkeys = 1
			keyind = ind
		}
	}
}
END {
	for (i = 1; i <= nkeys; i++) {
		user = owner[i] ? name[owner[i]] : "root"
		if (user == "" || user == "default")
			user = "root"
		print user "\t" key[i]
	}
}
