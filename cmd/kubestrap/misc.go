package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/kubestrap/kubestrap/components/images"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/snapshot"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "v0.1.0-dev"

func newVersionCommand(out io.Writer) *cobra.Command {
	var o *output
	cmd := &cobra.Command{Use: "version", Short: "Print kubestrap's version", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			info := map[string]string{"kubestrap": version, "defaultKubernetesVersion": config.DefaultKubernetesVersion,
				"go": runtime.Version(), "platform": runtime.GOOS + "/" + runtime.GOARCH}
			return o.print(out, info, func() error {
				_, err := fmt.Fprintf(out, "kubestrap %s (default Kubernetes %s, %s, %s)\n", version,
					config.DefaultKubernetesVersion, info["go"], info["platform"])
				return err
			})
		}}
	o = addJSONOutput(cmd)
	return cmd
}

func newImagesCommand(out io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "images", Short: "The container images a cluster needs"}
	var kv, repo, podNetwork string
	var o *output
	list := &cobra.Command{Use: "list", Short: "Print the exact image references of a Kubernetes version", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			c := &config.ClusterConfiguration{KubernetesVersion: kv, ImageRepository: repo,
				Networking: config.Networking{PodNetwork: podNetwork}}
			config.SetClusterDefaults(c)
			if _, err := config.ParseKubernetesVersion(kv); err != nil {
				return usage(fmt.Errorf("--kubernetes-version: %w", err))
			}
			s, err := images.Images(c)
			if err != nil {
				return err
			}
			return o.print(out, s, func() error {
				for _, ref := range s.List() {
					fmt.Fprintln(out, ref)
				}
				return nil
			})
		}}
	list.Flags().StringVar(&kv, "kubernetes-version", config.DefaultKubernetesVersion, "the Kubernetes version")
	list.Flags().StringVar(&repo, "image-repository", config.DefaultImageRepository, "the registry prefix")
	list.Flags().StringVar(&podNetwork, "pod-network", config.DefaultPodNetwork, "flannel or none")
	o = addJSONOutput(list)
	cmd.AddCommand(list, newImagesLoadCommand(out), newImagesBuildCommand(out))
	return cmd
}

func newImagesLoadCommand(out io.Writer) *cobra.Command {
	var o *output
	cmd := &cobra.Command{Use: "load FILE", Short: "Import an images tarball into containerd (namespace k8s.io), for air-gapped nodes",
		Args: cobra.ExactArgs(1), RunE: func(_ *cobra.Command, args []string) error {
			progress := out
			if o.isJSON() {
				progress = io.Discard
			}
			sum, err := images.LoadImages(args[0], images.HostCtr, progress)
			if err != nil {
				return err
			}
			// In text, the progress lines were the report.
			return o.print(out, sum, func() error { return nil })
		}}
	o = addJSONOutput(cmd)
	return cmd
}

// addJSONOutput registers the -o of commands whose only format is json.
// It is not checked: any other value has always printed text.
func addJSONOutput(cmd *cobra.Command) *output {
	return addOutput(cmd.Flags(), "", "output format: json")
}

func newImagesBuildCommand(out io.Writer) *cobra.Command {
	var binDir, rootfs, file, kv string
	cmd := &cobra.Command{Use: "build", Short: "Build the images tarball from bundle binaries (used by `make images`)",
		Args: cobra.NoArgs, RunE: func(*cobra.Command, []string) error {
			if binDir == "" || rootfs == "" || file == "" {
				return usage(fmt.Errorf("--bin-dir, --rootfs and -o are required"))
			}
			c := &config.ClusterConfiguration{KubernetesVersion: kv}
			config.SetClusterDefaults(c)
			s, err := images.Images(c)
			if err != nil {
				return usage(err)
			}
			if err := images.BuildImages(images.BundleImages(s), binDir, rootfs, file); err != nil {
				return err
			}
			_, err = fmt.Fprintf(out, "wrote %s\n", file)
			return err
		}}
	cmd.Flags().StringVar(&binDir, "bin-dir", "", "the bundle's binaries")
	cmd.Flags().StringVar(&rootfs, "rootfs", "", "root file system for the base layer of kube-proxy and flannel")
	cmd.Flags().StringVarP(&file, "output", "o", "", "the tarball to write")
	cmd.Flags().StringVar(&kv, "kubernetes-version", config.DefaultKubernetesVersion, "the Kubernetes version the binaries are")
	return cmd
}

// recoverParked recovers what a killed day-2 run left on this host; the
// caller holds the node lock.
func recoverParked(out io.Writer, prefix string) error {
	return snapshot.RecoverLeftover("/", out, prefix)
}
