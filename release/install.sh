#!/usr/bin/env bash
# install.sh: installs the kubestrap release it sits in. As root, on the node:
#
#   tar xzf kubestrap-VERSION-linux-amd64.tar.gz && cd kubestrap-VERSION-linux-amd64/ && ./install.sh
#
# What goes where (PREFIX is /usr/local unless --prefix says otherwise):
#   PREFIX/lib/kubestrap/{kubestrap,kubelet,kubectl,cni/*}  the release, kept together: kubestrap
#                       finds the kubelet and cni/ beside its own path (symlinks resolved)
#   PREFIX/lib/kubestrap/kubernetes-version              the release's Kubernetes version (init's default)
#   PREFIX/lib/kubestrap/kubelets/VERSION/kubelet           this release's kubelet under its Kubernetes
#                       version; the other versions' stay (a newer release never takes away the kubelet
#                       a node runs: `kubestrap upgrade` switches it, when the API server is at that version)
#   PREFIX/bin/kubestrap, PREFIX/bin/kubectl               symlinks into PREFIX/lib/kubestrap
#   /etc/bash_completion.d/{kubestrap,kubectl}             when that directory exists, else
#                       PREFIX/share/bash-completion/completions/ when bash-completion 2 is installed
#   PREFIX/share/zsh/site-functions/{_kubestrap,_kubectl}  when zsh is installed
#   PREFIX/lib/kubestrap/installed-files                   the list of the above, for --uninstall
#
# Idempotent: a file is rewritten only when its sha256 differs, always through a temp file in the
# same directory and a rename; a path installed before that this release no longer has is removed.
# Files that are not kubestrap's are left alone and named (a kubectl of your own in PREFIX/bin, a
# completion file another package wrote); PREFIX/bin/kubestrap is always kubestrap's.
#
# -o json prints one object on stdout and the progress lines on stderr:
#   {"changed": bool, "prefix": "/usr/local", "version": "v0.3.0", "installed": [paths written],
#    "removed": [paths removed]}     (plus "error": "..." when it fails)
# Exit codes: 0 done (changed or not), 1 failed, 2 bad flag (nothing written).
#
# Runs on CentOS 7's bash 4.2 with coreutils only. KUBESTRAP_INSTALL_ROOT=DIR installs below DIR
# (like make's DESTDIR; the tests use it): the symlinks still point at PREFIX.
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: ./install.sh [--prefix DIR] [-o json]      install this release (as root)
       ./install.sh --uninstall [--prefix DIR] [-o json]   remove what install.sh installed

  --prefix DIR   install below DIR (default /usr/local): DIR/lib/kubestrap, DIR/bin, DIR/share
  --uninstall    remove exactly what install.sh installed there, and nothing else
  -o, --output json  print one JSON object on stdout: {changed, prefix, version, installed, removed}
                 (progress lines go to stderr)
  -h, --help     this help

Safe to run again: only what differs is rewritten, and the last line says what changed.
EOF
}

usage_error() {
	printf 'install.sh: %s (see ./install.sh --help)\n' "$*" >&2
	# Ansible parses stdout even when the flags are wrong: with -o json
	# anywhere on the line, one object says so.
	if ((want_json)); then
		local s="install.sh: $* (see ./install.sh --help)"
		s=${s//\\/\\\\}
		printf '{"changed": false, "error": "%s"}\n' "${s//\"/\\\"}"
	fi
	exit 2
}

want_json=0
prev=""
for a in "$@"; do
	case "$prev $a" in
	"-o json" | "--output json" | *" --output=json" | *" -ojson") want_json=1 ;;
	esac
	prev=$a
done
prefix=/usr/local output="" uninstall=0
while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--prefix)
		(($# >= 2)) || usage_error "--prefix needs a directory"
		prefix=$2
		shift
		;;
	--prefix=*) prefix=${1#--prefix=} ;;
	-o | --output)
		(($# >= 2)) || usage_error "$1 needs a format: json"
		output=$2
		shift
		;;
	--output=*) output=${1#--output=} ;;
	-o*) output=${1#-o} ;;
	--uninstall) uninstall=1 ;;
	*) usage_error "unknown flag or argument \"$1\"" ;;
	esac
	shift
done
[[ -z $output || $output == json ]] || usage_error "unknown output format \"$output\": use json"
[[ $prefix == /* ]] || usage_error "--prefix \"$prefix\" is not an absolute path"
while [[ $prefix == */ && $prefix != / ]]; do prefix=${prefix%/}; done
root=${KUBESTRAP_INSTALL_ROOT:-}
[[ -z $root || $root == /* ]] || usage_error "KUBESTRAP_INSTALL_ROOT \"$root\" is not an absolute path"
root=${root%/}

verb=install
((uninstall)) && verb=uninstall
# Progress goes to stdout, or to stderr when stdout carries the JSON (fd 3).
exec 3>&1
[[ $output == json ]] && exec 1>&2

src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
p=${prefix%/}
lib="$p/lib/kubestrap"
manifest="$lib/installed-files"

installed=() removed=() kept=()
tmp="" pending=""
cleanup() {
	[[ -z $pending ]] || rm -f "$pending"
	[[ -z $tmp ]] || rm -rf "$tmp"
}
trap cleanup EXIT

say() { printf '[%s] %s\n' "$verb" "$*"; }

json_str() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\n'/\\n}
	s=${s//$'\t'/\\t}
	printf '"%s"' "$s"
}

json_list() {
	local sep="" x
	printf '['
	for x in "$@"; do
		printf '%s%s' "$sep" "$(json_str "$x")"
		sep=", "
	done
	printf ']'
}

report() { # report [error]
	local changed=false
	((${#installed[@]} + ${#removed[@]} == 0)) || changed=true
	[[ $output == json ]] || return 0
	{
		printf '{"changed": %s, "prefix": %s, "version": %s, "installed": ' "$changed" "$(json_str "$prefix")" "$(json_str "$version")"
		json_list ${installed[@]+"${installed[@]}"}
		printf ', "removed": '
		json_list ${removed[@]+"${removed[@]}"}
		[[ $# -eq 0 ]] || printf ', "error": %s' "$(json_str "$1")"
		printf '}\n'
	} >&3
}

die() {
	printf 'install.sh: %s\n' "$*" >&2
	report "$*"
	exit 1
}

version=""
if [[ -f $src/kubestrap ]]; then
	if out=$("$src/kubestrap" version 2>/dev/null); then
		read -r _ version _ <<<"$out"
	elif ((!uninstall)); then
		die "$src/kubestrap does not run on this machine (the release is for linux/amd64)"
	fi
fi

# sha256 of a file, empty when it is not one.
sum() {
	local s
	[[ -f $1 ]] && s=$(sha256sum <"$1") || return 0
	printf '%s' "${s%% *}"
}

# same FILE1 FILE2: equal content (sizes first: hashing the kubelet twice
# costs a second).
same() {
	[[ -f $1 && -f $2 && $(stat -c %s "$1") == "$(stat -c %s "$2")" ]] || return 1
	[[ $(sum "$1") == "$(sum "$2")" ]]
}

# ours_link PATH TARGET: PATH is a symlink to TARGET.
ours_link() { [[ -L $root$1 && $(readlink "$root$1") == "$2" ]]; }

# writable PATH: the nearest existing directory above PATH can be written.
writable() {
	local d
	d=$(dirname "$root$1")
	while [[ ! -e $d ]]; do d=$(dirname "$d"); done
	[[ -d $d && -w $d ]]
}

# kubelet_version: the release's Kubernetes version (make dist writes it;
# an older release has only its kubelet to ask).
kubelet_version() {
	local v
	if [[ -f $src/kubernetes-version ]]; then
		v=$(<"$src/kubernetes-version")
	else
		v=$("$src/kubelet" --version) || return 1
		v=${v##* }
	fi
	[[ $v =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || return 1
	echo "$v"
}

# The previous install's list, then the plan: PLAN_KIND (file|link),
# PLAN_DST (path on the machine), PLAN_SRC (file to copy, or link target),
# PLAN_MODE.
declare -A owned=()
owned_list=()
if [[ -f $root$manifest ]]; then
	while IFS= read -r line; do
		[[ -n $line && -z ${owned[$line]:-} ]] || continue
		owned[$line]=1
		owned_list+=("$line")
	done <"$root$manifest"
fi

PLAN_KIND=() PLAN_DST=() PLAN_SRC=() PLAN_MODE=()
plan() { PLAN_KIND+=("$1") PLAN_DST+=("$2") PLAN_SRC+=("$3") PLAN_MODE+=("${4:-}"); }

# foreign_file PATH CONTENT: PATH holds something install.sh did not put
# there (it is not in the list) and that differs from what it would write.
foreign_file() {
	[[ -e $root$1 || -L $root$1 ]] || return 1
	[[ -z ${owned[$1]:-} ]] || return 1
	! { [[ ! -L $root$1 ]] && same "$root$1" "$2"; }
}

if ((!uninstall)); then
	for f in kubestrap kubelet kubectl; do
		[[ -f $src/$f ]] || die "$src/$f is missing: run install.sh from the unpacked release (tar xzf kubestrap-*.tar.gz && cd kubestrap-*/)"
	done
	cni=()
	for f in "$src"/cni/*; do
		[[ -f $f ]] && cni+=("${f##*/}")
	done
	((${#cni[@]})) || die "$src/cni has no CNI plugins: unpack the whole release"

	tmp=$(mktemp -d "${TMPDIR:-/tmp}/kubestrap-install.XXXXXX")
	for f in kubestrap kubelet kubectl; do plan file "$lib/$f" "$src/$f" 755; done
	for f in "${cni[@]}"; do plan file "$lib/cni/$f" "$src/cni/$f" 755; done
	kube_version=$(kubelet_version) || die "$src/kubelet --version failed: unpack the whole release"
	plan file "$lib/kubelets/$kube_version/kubelet" "$src/kubelet" 755
	# kubestrap reads it beside itself: init makes a cluster of this version.
	printf '%s\n' "$kube_version" >"$tmp/kubernetes-version"
	plan file "$lib/kubernetes-version" "$tmp/kubernetes-version" 644

	plan link "$p/bin/kubestrap" "$lib/kubestrap"
	# A kubectl of the admin's own there stays: the link is made only where
	# there is nothing or kubestrap's link.
	if ours_link "$p/bin/kubectl" "$lib/kubectl" || [[ ! -e $root$p/bin/kubectl && ! -L $root$p/bin/kubectl ]]; then
		plan link "$p/bin/kubectl" "$lib/kubectl"
	else
		kept+=("$p/bin/kubectl (not kubestrap's; kubestrap's kubectl is $lib/kubectl)")
	fi

	# Completion: where the installed shells look, when they are installed.
	bash_dir=""
	if [[ -d $root/etc/bash_completion.d ]]; then
		bash_dir=/etc/bash_completion.d
	elif [[ -d $root/usr/share/bash-completion/completions ]]; then
		bash_dir=$p/share/bash-completion/completions
	fi
	[[ -n $bash_dir ]] || kept+=("bash completion: bash-completion is not installed (install it, then run install.sh again)")
	zsh_dir=""
	[[ -d $root/usr/share/zsh ]] && zsh_dir=$p/share/zsh/site-functions
	for tool in kubestrap kubectl; do
		for shell in bash zsh; do
			dir=$bash_dir name=$tool
			[[ $shell == zsh ]] && dir=$zsh_dir name=_$tool
			[[ -n $dir ]] || continue
			gen="$tmp/$shell-$tool"
			"$src/$tool" completion "$shell" >"$gen" 2>"$tmp/err" ||
				die "$tool completion $shell failed: $(head -c 300 "$tmp/err")"
			if foreign_file "$dir/$name" "$gen"; then
				kept+=("$dir/$name (not kubestrap's)")
			else
				plan file "$dir/$name" "$gen" 644
			fi
		done
	done
fi

# What is there and not planned any more: everything on an uninstall; on an
# install, what an earlier release installed and this one does not have.
declare -A planned=()
for d in ${PLAN_DST[@]+"${PLAN_DST[@]}"}; do planned[$d]=1; done
stale=()
candidates=(${owned_list[@]+"${owned_list[@]}"})
if ((uninstall)); then
	# Without a list (an install by hand, a lost list), what install.sh
	# would have put there.
	for f in kubestrap kubelet kubectl; do candidates+=("$lib/$f"); done
	for f in "$root$lib"/cni/*; do [[ -e $f ]] && candidates+=("${f#"$root"}"); done
	candidates+=("$p/bin/kubestrap" "$p/bin/kubectl")
fi
declare -A seen=()
carried=()
for d in ${candidates[@]+"${candidates[@]}"}; do
	[[ -z ${planned[$d]:-} && -z ${seen[$d]:-} ]] || continue
	seen[$d]=1
	[[ -e $root$d || -L $root$d ]] || continue
	case $d in
	"$lib/kubelets/"*/kubelet)
		# Another version's kubelet: a node may still run it.
		if ((!uninstall)); then
			carried+=("$d")
			continue
		fi
		;;
	esac
	case $d in
	"$p/bin/kubestrap" | "$p/bin/kubectl")
		if ! ours_link "$d" "$lib/${d##*/}"; then
			# A link into another kubestrap, or a file: not ours to remove.
			[[ -n ${owned[$d]:-} ]] && kept+=("$d (no longer a link to $lib)")
			continue
		fi
		;;
	esac
	stale+=("$d")
done

# What to write: planned paths whose content or target differs.
todo=()
for i in ${PLAN_DST[@]+"${!PLAN_DST[@]}"}; do
	d=${PLAN_DST[i]}
	if [[ ${PLAN_KIND[i]} == link ]]; then
		ours_link "$d" "${PLAN_SRC[i]}" && continue
	elif [[ ! -L $root$d ]] && same "$root$d" "${PLAN_SRC[i]}" && [[ $(stat -c %a "$root$d") == "${PLAN_MODE[i]}" ]]; then
		continue
	fi
	todo+=("$i")
done

# Refuse before the first write rather than halfway.
check=("$manifest")
for i in ${todo[@]+"${todo[@]}"}; do check+=("${PLAN_DST[i]}"); done
for d in "${check[@]}" ${stale[@]+"${stale[@]}"}; do
	writable "$d" || die "cannot write in $root$(dirname "$d"): run install.sh as root (nothing was changed)"
done

# Apply: files first, so that a link never points at nothing; removals
# last. Each write is a temp file in the target's directory, renamed over.
for i in ${todo[@]+"${todo[@]}"}; do
	d=${PLAN_DST[i]} dir=$(dirname "$root${PLAN_DST[i]}")
	mkdir -p "$dir" || die "cannot create $dir"
	pending=$(mktemp "$dir/.kubestrap-install.XXXXXX") || die "cannot create a temp file in $dir"
	if [[ ${PLAN_KIND[i]} == link ]]; then
		rm -f "$pending"
		ln -s "${PLAN_SRC[i]}" "$pending" || die "cannot link $root$d"
		what="$d -> ${PLAN_SRC[i]}: linked"
	else
		if ! { cp "${PLAN_SRC[i]}" "$pending" && chmod "${PLAN_MODE[i]}" "$pending"; }; then
			die "cannot write $root$d"
		fi
		what="$d: written"
	fi
	mv -Tf "$pending" "$root$d" || die "cannot replace $root$d"
	pending=""
	installed+=("$d")
	say "$what"
done
for d in ${stale[@]+"${stale[@]}"}; do
	rm -f "$root$d" || die "cannot remove $root$d"
	removed+=("$d")
	say "$d: removed"
done

# The list of what is installed now, rewritten only when it changes.
if ((uninstall)); then
	rm -f "$root$manifest"
	for d in "$root$lib"/kubelets/*/; do [[ -d $d ]] && rmdir "$d" 2>/dev/null; done
	rmdir "$root$lib/kubelets" "$root$lib/cni" "$root$lib" 2>/dev/null || true
else
	list="$tmp/installed-files"
	printf '%s\n' "${PLAN_DST[@]}" ${carried[@]+"${carried[@]}"} >"$list"
	if ! same "$root$manifest" "$list"; then
		if ! { pending=$(mktemp "$root$lib/.kubestrap-install.XXXXXX") && cp "$list" "$pending" &&
			chmod 644 "$pending" && mv -Tf "$pending" "$root$manifest"; }; then
			die "cannot write $root$manifest"
		fi
		pending=""
	fi
fi

for k in ${kept[@]+"${kept[@]}"}; do say "skipped: $k"; done
n=$((${#installed[@]} + ${#removed[@]}))
if ((uninstall)); then
	if ((n)); then
		say "removed kubestrap from $prefix: ${#removed[@]} path(s)"
	else
		say "kubestrap is not installed in $prefix: nothing to remove"
	fi
elif ((n)); then
	say "kubestrap $version installed in $prefix: ${#installed[@]} path(s) written, ${#removed[@]} removed, $((${#PLAN_DST[@]} - ${#installed[@]})) unchanged"
else
	say "kubestrap $version is installed in $prefix: nothing changed (${#PLAN_DST[@]} paths checked)"
fi
report
