#!/usr/bin/env bash
# install_test.sh: the release's install.sh against a fake release (small
# shell scripts for kubestrap, kubelet, kubectl and the CNI plugins) in temp
# roots (KUBESTRAP_INSTALL_ROOT): what lands where with which mode, the JSON
# object, a second run that changes nothing, one changed binary reported
# alone, a plugin gone from the release removed, an admin's own kubectl and
# completion left alone, --prefix, --uninstall leaving nothing, bad flags
# (exit 2, nothing written), a release that does not run here (exit 1 with
# the error in the JSON).
# INSTALL_SH_BASH=/path/to/bash runs install.sh with another bash (CentOS 7's
# is 4.2).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
sh_bash=${INSTALL_SH_BASH:-bash}
PASSED=0
fail() { printf '[install_test] FAIL: %s\n' "$*" >&2; exit 1; }
ok() { PASSED=$((PASSED + 1)); printf '[install_test] ok: %s\n' "$*"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/install_test.XXXXXX")
trap 'rm -rf "$work"' EXIT
rel="$work/kubestrap-v9.9.9-linux-amd64"
mkdir -p "$rel/cni"
cp "$here/install.sh" "$rel/install.sh"
fake_tool() { # fake_tool NAME: answers version and completion SHELL
	cat >"$rel/$1" <<EOF
#!/bin/sh
case "\$1" in
version) echo "$1 v9.9.9 (default Kubernetes v1.35.4, go1.25.0, linux/amd64)" ;;
completion) echo "# \$2 completion for $1" ;;
*) echo "$1: unknown command \$1" >&2; exit 1 ;;
esac
EOF
	chmod 755 "$rel/$1"
}
fake_tool kubestrap
fake_tool kubectl
printf '#!/bin/sh\necho Kubernetes v1.35.4\n' >"$rel/kubelet"
echo v1.35.4 >"$rel/kubernetes-version"
plugins=(bridge host-local loopback portmap)
for p in "${plugins[@]}"; do printf '#!/bin/sh\necho %s\n' "$p" >"$rel/cni/$p"; done
chmod 755 "$rel/kubelet" "$rel"/cni/*

# A machine with bash-completion (the compat dir) and zsh installed.
new_root() {
	local r="$work/$1"
	mkdir -p "$r/etc/bash_completion.d" "$r/usr/share/zsh"
	printf '%s' "$r"
}
# run ROOT ARGS...: install.sh's stdout in $out, stderr in $err, status in $rc.
run() {
	local r=$1
	shift
	rc=0
	out=$(KUBESTRAP_INSTALL_ROOT=$r "$sh_bash" "$rel/install.sh" "$@" 2>"$work/stderr") || rc=$?
	err=$(cat "$work/stderr")
}
# field NAME: a scalar of the JSON object in $out; list NAME: a list's
# inside, e.g. "/a", "/b".
field() { [[ $out =~ \"$1\":\ (true|false|\"[^\"]*\") ]] && printf '%s' "${BASH_REMATCH[1]}"; }
list() { [[ $out =~ \"$1\":\ \[([^]]*)\] ]] && printf '%s' "${BASH_REMATCH[1]}"; }
quoted() { # quoted A B...: "A", "B"
	local sep="" x
	for x in "$@"; do printf '%s"%s"' "$sep" "$x" && sep=", "; done
}
one_json_object() {
	[[ $out == "{"*"}" && $out != *$'\n'* ]] || fail "stdout is not one JSON object on one line: $out"
	if command -v jq >/dev/null; then jq -e . >/dev/null <<<"$out" || fail "not valid JSON: $out"; fi
}
leftovers() { (cd "$1" && find . \( -type f -o -type l \) | sort); }

lib=/usr/local/lib/kubestrap
files=("$lib/kubestrap" "$lib/kubelet" "$lib/kubectl")
for p in "${plugins[@]}"; do files+=("$lib/cni/$p"); done
links=(/usr/local/bin/kubestrap /usr/local/bin/kubectl)
completions=(/etc/bash_completion.d/kubestrap /usr/local/share/zsh/site-functions/_kubestrap
	/etc/bash_completion.d/kubectl /usr/local/share/zsh/site-functions/_kubectl)
files+=("$lib/kubelets/v1.35.4/kubelet")
all=("${files[@]}" "$lib/kubernetes-version" "${links[@]}" "${completions[@]}")

# Bad input: exit 2, a message, nothing written.
root=$(new_root bad)
for args in "--bogus" "-o yaml" "--output=text" "--prefix relative/dir" "--prefix" "extra-arg" "--uninstall --nope"; do
	read -r -a a <<<"$args"
	run "$root" "${a[@]}"
	((rc == 2)) || fail "install.sh $args: exit $rc, want 2"
	[[ $err == *"see ./install.sh --help"* ]] || fail "install.sh $args: no usage hint in: $err"
	[[ -z $(leftovers "$root") ]] || fail "install.sh $args wrote $(leftovers "$root")"
done
ok "bad flags, output formats, relative --prefix and stray arguments exit 2 and write nothing"
for args in "-o json --bogus" "--bogus -o json" "--output=json extra-arg" "-ojson --prefix rel"; do
	read -r -a a <<<"$args"
	run "$root" "${a[@]}"
	((rc == 2)) || fail "install.sh $args: exit $rc, want 2"
	one_json_object
	[[ $(field changed) == false && $out == *'"error": "install.sh: '* ]] || fail "install.sh $args: $out"
	[[ -z $(leftovers "$root") ]] || fail "install.sh $args wrote $(leftovers "$root")"
done
ok "a usage error with -o json still prints one JSON object (changed false, error) and exits 2"
run "$root" --help
[[ $rc == 0 && $out == Usage:* && $out == *--uninstall* ]] || fail "--help: exit $rc: $out"
ok "--help prints the usage"

# A fresh install.
root=$(new_root main)
run "$root" -o json
((rc == 0)) || fail "install: exit $rc: $err"
one_json_object
[[ $(field changed) == true && $(field prefix) == '"/usr/local"' && $(field version) == '"v9.9.9"' ]] ||
	fail "install: $out"
[[ $(list installed) == "$(quoted "${all[@]}")" && $(list removed) == "" ]] || fail "install: installed list: $out"
[[ $err == *"[install] /usr/local/lib/kubestrap/kubelet: written"* ]] || fail "no progress lines on stderr: $err"
[[ ${err##*$'\n'} == "[install] kubestrap v9.9.9 installed in /usr/local: 15 path(s) written, 0 removed, 0 unchanged" ]] ||
	fail "last line: ${err##*$'\n'}"
ok "install -o json: one object on stdout, {changed: true, prefix, version, installed: the 15 paths}, progress on stderr"

for f in "${files[@]}"; do
	[[ -f $root$f && ! -L $root$f && $(stat -c %a "$root$f") == 755 ]] || fail "$f: not a 0755 file"
	want=$rel/${f#"$lib"/}
	[[ $f == "$lib"/kubelets/* ]] && want=$rel/kubelet
	cmp -s "$root$f" "$want" || fail "$f differs from the release's"
done
[[ $(cat "$root$lib/kubernetes-version") == v1.35.4 && $(stat -c %a "$root$lib/kubernetes-version") == 644 ]] ||
	fail "$lib/kubernetes-version should say v1.35.4 (0644)"
for l in "${links[@]}"; do
	[[ -L $root$l && $(readlink "$root$l") == "$lib/${l##*/}" ]] || fail "$l: not a link to $lib/${l##*/}"
done
for c in "${completions[@]}"; do
	[[ $(stat -c %a "$root$c") == 644 ]] || fail "$c: mode $(stat -c %a "$root$c")"
done
[[ $(cat "$root/etc/bash_completion.d/kubectl") == "# bash completion for kubectl" &&
	$(cat "$root/usr/local/share/zsh/site-functions/_kubestrap") == "# zsh completion for kubestrap" ]] ||
	fail "completion files do not hold the tools' own output"
[[ -z $(find "$root" -name '.kubestrap-install.*') ]] || fail "temp files left: $(find "$root" -name '.kubestrap-install.*')"
ok "binaries 0755 in $lib (cni/ beside them), links in /usr/local/bin, bash and zsh completion 0644, no temp files"

before=$(cd "$root" && find . -exec stat -c '%n %i %Y' {} + | sort)
run "$root" -o json
one_json_object
[[ $(field changed) == false && $(list installed) == "" && $(list removed) == "" ]] || fail "second run: $out"
[[ $(cd "$root" && find . -exec stat -c '%n %i %Y' {} + | sort) == "$before" ]] || fail "the second run rewrote files"
run "$root"
[[ $rc == 0 && ${out##*$'\n'} == "[install] kubestrap v9.9.9 is installed in /usr/local: nothing changed (15 paths checked)" ]] ||
	fail "second run, human output: $out"
ok "a second run changes nothing (same inodes and times) and says so in its last line"

echo "# new" >>"$rel/kubelet"
run "$root" -o json
[[ $(field changed) == true && $(list installed) == "$(quoted "$lib/kubelet" "$lib/kubelets/v1.35.4/kubelet")" &&
	$(list removed) == "" ]] || fail "changed kubelet: $out"
cmp -s "$root$lib/kubelet" "$rel/kubelet" || fail "the new kubelet was not installed"
chmod 700 "$root$lib/cni/bridge"
run "$root" -o json
[[ $(list installed) == "$(quoted "$lib/cni/bridge")" && $(stat -c %a "$root$lib/cni/bridge") == 755 ]] ||
	fail "a wrong mode is not repaired: $out"
ok "a changed binary is the only path written and listed (a wrong mode too)"

mv "$rel/cni/portmap" "$work/portmap"
run "$root" -o json
[[ $(field changed) == true && $(list installed) == "" && $(list removed) == "$(quoted "$lib/cni/portmap")" ]] ||
	fail "plugin gone from the release: $out"
[[ ! -e $root$lib/cni/portmap ]] || fail "portmap is still installed"
mv "$work/portmap" "$rel/cni/portmap"
run "$root" -o json
[[ $(list installed) == "$(quoted "$lib/cni/portmap")" ]] || fail "plugin back: $out"
ok "a path an earlier install made that the release no longer has is removed"

# A release of another Kubernetes version: its kubelet goes beside the
# first one's, which stays (a node may run it until `kubestrap upgrade`).
mroot=$(new_root multi)
run "$mroot"
echo v1.36.0 >"$rel/kubernetes-version"
run "$mroot" -o json
[[ $(list installed) == "$(quoted "$lib/kubelets/v1.36.0/kubelet" "$lib/kubernetes-version")" && $(list removed) == "" ]] ||
	fail "another version's release: $out"
[[ -x $mroot$lib/kubelets/v1.35.4/kubelet && -x $mroot$lib/kubelets/v1.36.0/kubelet ]] || fail "both kubelets should be there"
grep -qx "$lib/kubelets/v1.35.4/kubelet" "$mroot$lib/installed-files" || fail "the kept kubelet left the installed list"
rm "$rel/kubernetes-version"
run "$mroot" -o json
[[ $rc == 0 && $(list installed) == "$(quoted "$lib/kubernetes-version")" && $(list removed) == "" &&
	$(cat "$mroot$lib/kubernetes-version") == v1.35.4 ]] ||
	fail "without kubernetes-version the kubelet's --version names the version: $out"
run "$mroot" --uninstall -o json
[[ $(leftovers "$mroot") == "" ]] || fail "uninstall left: $(leftovers "$mroot")"
echo v1.35.4 >"$rel/kubernetes-version"
ok "each Kubernetes version's kubelet has its own directory; installing another version's release keeps the others; uninstall removes them all"

# An admin's own kubectl and kubectl completion stay, through install and
# uninstall.
root2=$(new_root admin)
mkdir -p "$root2/usr/local/bin"
printf 'my kubectl\n' >"$root2/usr/local/bin/kubectl"
printf 'my completion\n' >"$root2/etc/bash_completion.d/kubectl"
run "$root2"
((rc == 0)) || fail "install next to an admin's kubectl: exit $rc: $err"
[[ $(cat "$root2/usr/local/bin/kubectl") == "my kubectl" && $(cat "$root2/etc/bash_completion.d/kubectl") == "my completion" ]] ||
	fail "the admin's kubectl or its completion was replaced"
[[ $out == *"skipped: /usr/local/bin/kubectl (not kubestrap's; kubestrap's kubectl is $lib/kubectl)"* &&
	$out == *"skipped: /etc/bash_completion.d/kubectl (not kubestrap's)"* ]] || fail "not said: $out"
run "$root2" --uninstall
[[ $(leftovers "$root2") == "$(printf './etc/bash_completion.d/kubectl\n./usr/local/bin/kubectl')" ]] ||
	fail "uninstall next to an admin's kubectl left: $(leftovers "$root2")"
ok "an admin's own kubectl and completion file are left alone, named, and survive --uninstall"

run "$root" --uninstall -o json
one_json_object
[[ $(field changed) == true && $(list installed) == "" && $(list removed) == "$(quoted "${all[@]}")" ]] ||
	fail "uninstall: $out"
[[ -z $(leftovers "$root") ]] || fail "uninstall left: $(leftovers "$root")"
[[ ! -e $root$lib ]] || fail "uninstall left $lib"
run "$root" --uninstall -o json
[[ $rc == 0 && $(field changed) == false && $(list removed) == "" ]] || fail "second uninstall: $out"
ok "--uninstall removes the 15 paths and $lib, nothing is left; a second one changes nothing"

root=$(new_root prefix)
run "$root" --prefix=/opt/ks/ -o json
[[ $rc == 0 && $(field prefix) == '"/opt/ks"' && $(readlink "$root/opt/ks/bin/kubestrap") == /opt/ks/lib/kubestrap/kubestrap &&
	-x $root/opt/ks/lib/kubestrap/cni/loopback && -f $root/opt/ks/share/zsh/site-functions/_kubectl &&
	-f $root/etc/bash_completion.d/kubestrap && ! -e $root/usr/local ]] || fail "--prefix /opt/ks: $out"
run "$root" --prefix /opt/ks --uninstall
[[ $rc == 0 && -z $(leftovers "$root") ]] || fail "--prefix /opt/ks --uninstall left: $(leftovers "$root")"
ok "--prefix DIR installs and uninstalls below DIR (the links name DIR)"

# No bash-completion compat dir, bash-completion 2 installed, no zsh.
root="$work/bc2"
mkdir -p "$root/usr/share/bash-completion/completions"
run "$root" -o json
[[ -f $root/usr/local/share/bash-completion/completions/kubestrap && ! -e $root/usr/local/share/zsh ]] ||
	fail "bash-completion 2 without zsh: $out"
ok "without /etc/bash_completion.d, bash completion goes to PREFIX/share/bash-completion/completions; no zsh, no zsh files"
root="$work/bare"
mkdir -p "$root"
run "$root"
[[ $rc == 0 && -z $(find "$root" -name '*kube*' -path '*completion*') && $out == *"skipped: bash completion: bash-completion is not installed"* ]] ||
	fail "no bash-completion: exit $rc: $out"
ok "without bash-completion or zsh: no completion files, and the output says so"

# Failures before any write: a file where a directory must go; a release
# whose kubestrap does not run here.
root=$(new_root blocked)
mkdir -p "$root/usr/local"
printf 'not a dir\n' >"$root/usr/local/lib"
run "$root" -o json
[[ $rc == 1 && $(field changed) == false && $out == *'"error": "cannot write in '* ]] || fail "blocked lib: exit $rc: $out"
[[ $(leftovers "$root") == ./usr/local/lib ]] || fail "a blocked install wrote: $(leftovers "$root")"
cp "$rel/kubestrap" "$work/kubestrap"
printf '#!/bin/sh\nexit 126\n' >"$rel/kubestrap"
root=$(new_root broken)
run "$root" -o json
one_json_object
[[ $rc == 1 && $(field changed) == false && $out == *'does not run on this machine'* ]] || fail "broken kubestrap: exit $rc: $out"
[[ -z $(leftovers "$root") ]] || fail "an install with a broken kubestrap wrote: $(leftovers "$root")"
cp "$work/kubestrap" "$rel/kubestrap"
ok "an unwritable target or a kubestrap that does not run here: exit 1, the error in the JSON, nothing written"

# shellcheck disable=SC2016 # expanded by the bash under test
echo "[install_test] $PASSED checks passed (install.sh ran with bash $("$sh_bash" -c 'echo $BASH_VERSION'))"
