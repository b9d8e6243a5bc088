package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/preflight"
)

func newPreflightCommand(out io.Writer) *cobra.Command {
	f := &initFlags{}
	var output string
	cmd := &cobra.Command{
		Use:   "preflight",
		Short: "Run init's preflight checks and print a table (or JSON)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "" && output != "json" && output != "table" {
				return &usageError{fmt.Errorf("unknown output %q: use table or json", output)}
			}
			cfg, err := config.LoadInit(f.configFile, f.apply(cmd.Flags()))
			if err != nil {
				return err
			}
			env := preflight.Host()
			note := completeForPreflight(cfg, env)
			checks := preflight.InitChecks(env, cfg)
			results, runErr := preflight.Run(checks, preflight.NewIgnoreSet(cfg.NodeRegistration.IgnorePreflightErrors...))
			if output == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(map[string]any{"advertiseAddress": cfg.LocalAPIEndpoint.AdvertiseAddress,
					"advertiseAddressNote": note, "nodeName": cfg.NodeRegistration.Name, "checks": results}); err != nil {
					return err
				}
			} else {
				printTable(out, results, cfg, note)
			}
			return runErr
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

// completeForPreflight fills the node name and address like init does, but
// reports a detection failure as a note rather than stopping the report.
func completeForPreflight(cfg *config.Init, env *preflight.Env) string {
	if cfg.NodeRegistration.Name == "" {
		if h, err := env.Hostname(); err == nil {
			cfg.NodeRegistration.Name = strings.ToLower(h)
		}
	}
	if cfg.LocalAPIEndpoint.AdvertiseAddress != "" {
		return "given"
	}
	choice, err := preflight.DetectAdvertiseAddress(env)
	if err != nil {
		return "ERROR: " + err.Error()
	}
	cfg.LocalAPIEndpoint.AdvertiseAddress = choice.Addr.String()
	return choice.Note
}

func printTable(out io.Writer, results []preflight.Result, cfg *config.Init, note string) {
	fmt.Fprintf(out, "node %s, advertise address %s (%s)\n\n", cfg.NodeRegistration.Name,
		cfg.LocalAPIEndpoint.AdvertiseAddress, note)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSTATUS\tDETAILS")
	for _, r := range results {
		msgs := append(append([]string{}, r.Errors...), r.Warnings...)
		if r.Info != "" {
			msgs = append([]string{r.Info}, msgs...)
		}
		first := ""
		if len(msgs) > 0 {
			first = firstLine(msgs[0])
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.Status, first)
		for _, m := range msgs[min(1, len(msgs)):] {
			fmt.Fprintf(tw, "\t\t%s\n", firstLine(m))
		}
	}
	_ = tw.Flush()
	for _, r := range results {
		for _, m := range append(append([]string{}, r.Errors...), r.Warnings...) {
			if strings.Contains(m, "\n") {
				fmt.Fprintf(out, "\n%s:\n  %s\n", r.Name, m)
			}
		}
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
