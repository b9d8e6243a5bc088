package fleet

import (
	"fmt"
	"strings"
)

// detachedSteps are the kubestrap commands that run for minutes and must
// not die with the SSH session: a dropped connection would otherwise kill
// init or join half-way (sshd hangs up the session's processes).
var detachedSteps = map[string]string{
	"init":                              "init",
	"join":                              "join",
	"preflight":                         "preflight",
	"kubestrap init phase upload-certs": "upload-certs",
}

// systemdDir exists when systemd is PID 1.
const systemdDir = "/run/systemd/system"

// detach wraps a command so that it runs outside the SSH session and the
// session only waits for it: under systemd as the transient service
// kubestrap-up-STEP (a child of PID 1, outside the session's cgroup), else
// with setsid nohup. Its output goes to 0600 files in dir, read and removed
// once it exits. A re-run that finds it still running waits for it instead
// of starting a second one; a finished one whose result nobody read is run
// again, which kubestrap's commands allow (they resume or find it done).
//
// Not `systemd-run --wait --pipe`: the command's stdout would be the
// client's pipe, and a Go program writing to a broken pipe dies of
// SIGPIPE when the connection drops; and CentOS 7's systemd 219 has
// neither flag. The umask is set inside: a service does not inherit it,
// and init's output holds its token. The wrapper exits 0 so that the transient unit is
// collected without --collect. The first line names the command for
// whoever reads the script (it never holds secrets: those are in files).
func detach(dir, sysd, step, cmd string) string {
	unit := "kubestrap-up-" + step
	p := func(ext string) string { return shellQuote(dir + "/" + step + "." + ext) }
	out, errf, rc, pid := p("out"), p("err"), p("rc"), p("pid")
	inner := fmt.Sprintf("umask 077; (%s) >%s 2>%s; echo $? >%s.tmp && mv -f %s.tmp %s", cmd, out, errf, rc, rc, rc)
	lines := []string{
		"# " + cmd,
		"umask 077; mkdir -p " + shellQuote(dir),
		fmt.Sprintf("if test -d %s; then running() { systemctl is-active --quiet %s; }", sysd, unit),
		fmt.Sprintf("else running() { test -s %s && kill -0 \"$(cat %s)\" 2>/dev/null; }; fi", pid, pid),
		"if ! running; then",
		fmt.Sprintf("  rm -f %s %s %s %s", out, errf, rc, pid),
		fmt.Sprintf("  if test -d %s; then systemctl reset-failed %s 2>/dev/null; systemd-run --quiet --unit %s /bin/sh -c %s || exit 125",
			sysd, unit, unit, shellQuote(inner)),
		fmt.Sprintf("  else setsid nohup /bin/sh -c %s </dev/null >/dev/null 2>&1 & echo $! >%s; fi", shellQuote(inner), pid),
		"fi",
		fmt.Sprintf("while ! test -e %s && running; do sleep 1; done", rc),
		fmt.Sprintf("test -e %s || { echo '%s ended without a result (killed?): run up again' >&2; exit 125; }", rc, unit),
		fmt.Sprintf("cat %s; cat %s >&2; s=$(cat %s); rm -f %s %s %s %s; exit \"$s\"", out, errf, rc, out, errf, rc, pid),
	}
	return strings.Join(lines, "\n")
}

// detachedScript is the script a step runs: detached when it is long.
func detachedScript(name, cmd string) string {
	if step, ok := detachedSteps[name]; ok {
		return detach(upDir, systemdDir, step, cmd)
	}
	return cmd
}
