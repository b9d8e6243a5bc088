package phases

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubestrap/kubestrap/node"
)

// Flow is a phase tree and what its command needs to build a run's data.
// BindToCommand turns it into the command line every flow shares, as
// kubeadm's workflow.Runner.BindToCommand does: `<command> phase <name>
// [<child>]` for every phase and kubeadm alias, --skip-phases checked
// before anything is written, --dry-run, -o json, and the node lock.
type Flow struct {
	// Command is the operation's name ("init"), used in hints and errors.
	Command string
	Phases  []Phase
	// Aliases are kubeadm's names for the flow's phases.
	Aliases Aliases
	// Args are the positional arguments of the command and of each phase
	// command (join takes the API endpoint).
	Args cobra.PositionalArgs
	// ArgsUse names them in the phase commands' usage ("[API_ENDPOINT]").
	ArgsUse string
	// SkipExample, DryRunHelp and OutputHelp are the flags' help texts.
	SkipExample, DryRunHelp, OutputHelp string
	// DryRunDir: a dry run writes the node's files into a temporary
	// directory, which the runner makes and names at the end.
	DryRunDir bool
	// Start checks the command line and returns the run's session. It is
	// called before anything is written; an error it returns is the
	// user's to fix.
	Start func(inv *Invocation) (*Session, error)
}

// Invocation is one run of a flow's command as the runner parsed it.
type Invocation struct {
	Cmd  *cobra.Command
	Args []string
	// Only is the phase run alone (`phase NAME`), "" for the whole flow.
	Only      string
	DryRun    bool
	DryRunDir string
	// Out takes the phase lines; JSON is stdout when -o json was given
	// (Out is then stderr), nil otherwise.
	Out, JSON io.Writer
}

// Context is the command's context, cancelled on Ctrl-C.
func (inv *Invocation) Context() context.Context { return inv.Cmd.Context() }

// Session is what a flow's command contributes to one run. Every hook but
// Data is optional.
type Session struct {
	// Skip are the phases the configuration file skips.
	Skip []string
	// Confirm runs before the lock (a prompt at a terminal, say).
	Confirm func() error
	// Locked runs under the node lock before the data is built (recovering
	// what a killed run left).
	Locked func() error
	// Data builds the data the phases share.
	Data func() (Data, error)
	// Done, for a whole non-dry run, says the node already has what the
	// flow makes: the phases are not run.
	Done func(d Data) (bool, error)
	// Finish prints the result; err is the phases' error. changed is false
	// when Done said so.
	Finish func(d Data, changed bool, err error) error
	// Close releases what Data opened.
	Close func()
}

// UsageError marks bad command-line input (exit code 2).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// LockPath is the node lock every flow takes; a variable for tests.
var LockPath = node.LockPath

type flowFlags struct {
	dryRun bool
	output string
	skip   []string
}

// BindToCommand adds the flow's flags and its `phase` command tree to cmd
// and makes cmd run the whole flow.
func (f *Flow) BindToCommand(cmd *cobra.Command) {
	ff := &flowFlags{}
	pf := cmd.PersistentFlags()
	pf.BoolVar(&ff.dryRun, "dry-run", false, f.DryRunHelp)
	pf.StringVarP(&ff.output, "output", "o", "", f.OutputHelp)
	cmd.Flags().StringSliceVar(&ff.skip, "skip-phases", nil, fmt.Sprintf("phases to skip, e.g. %s (see `kubestrap %s phase --help`)",
		f.SkipExample, f.Command))
	cmd.Args = f.Args
	cmd.RunE = func(c *cobra.Command, args []string) error { return f.run(c, ff, args, "") }
	cmd.AddCommand(f.phaseCommand(ff))
}

func (f *Flow) phaseCommand(ff *flowFlags) *cobra.Command {
	phaseCmd := &cobra.Command{
		Use:   "phase [name]",
		Short: fmt.Sprintf("Run one phase of %s; a child phase as `phase NAME CHILD` or `phase NAME/CHILD`", f.Command),
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			if err := f.Args(cmd, args[1:]); err != nil {
				return &UsageError{err}
			}
			return f.run(cmd, ff, args[1:], args[0])
		},
	}
	var add func(parent *cobra.Command, prefix string, ps []Phase)
	add = func(parent *cobra.Command, prefix string, ps []Phase) {
		for _, p := range ps {
			c := f.leaf(ff, p.Name, prefix+p.Name, p.Short)
			parent.AddCommand(c)
			add(c, prefix+p.Name+"/", p.Phases)
		}
	}
	add(phaseCmd, "", f.Phases)
	f.addAliases(phaseCmd, ff)
	return phaseCmd
}

func (f *Flow) leaf(ff *flowFlags, name, path, short string) *cobra.Command {
	use := strings.TrimSpace(name + " " + f.ArgsUse)
	return &cobra.Command{Use: use, Short: short, Args: f.Args,
		RunE: func(cmd *cobra.Command, args []string) error { return f.run(cmd, ff, args, path) }}
}

// addAliases gives `phase` kubeadm's names as commands too (`init phase
// addon coredns`), marked as kubeadm's in their help.
func (f *Flow) addAliases(phaseCmd *cobra.Command, ff *flowFlags) {
	aliases := f.Aliases.Targets
	for _, name := range f.Aliases.Names() {
		parent := phaseCmd
		parts := strings.Split(name, "/")
		for i, part := range parts {
			path := strings.Join(parts[:i+1], "/")
			child := findChild(parent, part)
			if child == nil {
				child = f.leaf(ff, part, path, "")
				if targets, ok := aliases[path]; ok {
					child.Short = "kubeadm's name for " + describeTargets(targets)
				}
				parent.AddCommand(child)
			}
			parent = child
		}
	}
}

func findChild(parent *cobra.Command, name string) *cobra.Command {
	for _, c := range parent.Commands() {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

func describeTargets(targets []string) string {
	if len(targets) == 0 {
		return "a phase kubestrap has no counterpart of (running it says where its work is)"
	}
	return strings.Join(targets, ", ")
}

// run is one run of the flow: input checked first, then the lock, the
// data, the phases and the result.
func (f *Flow) run(cmd *cobra.Command, ff *flowFlags, args []string, only string) error {
	inv := &Invocation{Cmd: cmd, Args: args, Only: only, DryRun: ff.dryRun, Out: cmd.OutOrStdout()}
	switch ff.output {
	case "":
	case "json":
		// Phase lines go to stderr so that stdout is only the JSON.
		inv.Out, inv.JSON = cmd.ErrOrStderr(), cmd.OutOrStdout()
	default:
		return &UsageError{fmt.Errorf("unknown output %q: use json", ff.output)}
	}
	s, err := f.Start(inv)
	if err != nil {
		return err
	}
	r := &Runner{Command: f.Command, Phases: f.Phases, Aliases: f.Aliases, Out: inv.Out, Skip: append(append([]string(nil), ff.skip...), s.Skip...)}
	if err := r.ValidateSkip(); err != nil {
		return &UsageError{err}
	}
	if err := r.checkOnly(only); err != nil {
		return err
	}
	if s.Confirm != nil {
		if err := s.Confirm(); err != nil {
			return err
		}
	}
	release, err := f.prepare(inv, s)
	if err != nil {
		return err
	}
	defer release()
	return f.runPhases(inv, s, r)
}

// prepare makes the dry-run directory or takes the lock.
func (f *Flow) prepare(inv *Invocation, s *Session) (func(), error) {
	if inv.DryRun {
		if !f.DryRunDir {
			return func() {}, nil
		}
		dir, err := NewDryRunDir()
		if err != nil {
			return nil, err
		}
		inv.DryRunDir = dir
		return func() {
			if inv.DryRunDir != "" {
				fmt.Fprintf(inv.Out, "dry-run output: %s\n", inv.DryRunDir)
			}
		}, nil
	}
	lock, err := node.AcquireLock(LockPath, f.Command)
	if err != nil {
		return nil, err
	}
	if s.Locked != nil {
		if err := s.Locked(); err != nil {
			lock.Release()
			return nil, err
		}
	}
	return func() { lock.Release() }, nil
}

func (f *Flow) runPhases(inv *Invocation, s *Session, r *Runner) error {
	d, err := s.Data()
	if err != nil {
		if inv.DryRunDir != "" {
			_ = os.RemoveAll(inv.DryRunDir)
			inv.DryRunDir = ""
		}
		return err
	}
	if s.Close != nil {
		defer s.Close()
	}
	changed := true
	if inv.Only == "" && !inv.DryRun && s.Done != nil {
		done, err := s.Done(d)
		if err != nil {
			return err
		}
		changed = !done
	}
	if changed {
		if inv.Only != "" {
			err = r.RunPhase(inv.Context(), inv.Only, d)
		} else {
			err = r.Run(inv.Context(), d)
		}
	}
	if s.Finish != nil {
		return s.Finish(d, changed, err)
	}
	return err
}

// checkOnly refuses a phase name neither kubestrap nor kubeadm has before
// anything is written.
func (r *Runner) checkOnly(only string) error {
	if only == "" {
		return nil
	}
	if _, ok := r.find(only); ok {
		return nil
	}
	if _, ok := r.Aliases.Targets[only]; ok {
		return nil
	}
	_, err := r.aliasTargets(only)
	return &UsageError{err}
}
