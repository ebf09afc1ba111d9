// Command controlplane is the local Kubernetes control plane of virtkube (and
// the nodes' kubelet) in one binary, the way hyperkube and k3s bundle it: one
// build, one file to ship, and the components share the compiled Kubernetes packages. The first argument
// picks the component; the rest are that component's own flags, unchanged.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.etcd.io/etcd/server/v3/etcdmain"
	"k8s.io/component-base/cli"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

// components maps a subcommand to its entry point; each returns the exit code.
var components = map[string]func(args []string) int{
	"etcd": func(args []string) int {
		// etcdmain parses os.Args itself and exits on error; it is the
		// upstream etcd binary's main over go.etcd.io/etcd/server/v3/embed.
		etcdmain.Main(append([]string{"etcd"}, args...))
		return 0
	},
	"kube-apiserver": func(args []string) int {
		cmd := apiserver.NewAPIServerCommand()
		cmd.SetArgs(args)
		return cli.Run(cmd)
	},
	"kube-controller-manager": func(args []string) int {
		cmd := controllermanager.NewControllerManagerCommand()
		cmd.SetArgs(args)
		return cli.Run(cmd)
	},
	"kubelet": func(args []string) int {
		// The node agent: cmd/kubelet's main. The local cluster runs one per
		// node, each in a mount namespace of its own (src/virtkube/local/realnode).
		cmd := kubelet.NewKubeletCommand(context.Background())
		cmd.SetArgs(args)
		return cli.Run(cmd)
	},
	"kube-proxy": func(args []string) int {
		cmd := proxy.NewProxyCommand()
		cmd.SetArgs(args)
		return cli.Run(cmd)
	},
	"kube-scheduler": func(args []string) int {
		cmd := scheduler.NewSchedulerCommand()
		cmd.SetArgs(args)
		return cli.Run(cmd)
	},
	"kubectl": func(args []string) int {
		cmd := kubectlcmd.NewDefaultKubectlCommand()
		cmd.SetArgs(args)
		if err := cli.RunNoErrOutput(cmd); err != nil {
			// Prints the error the way kubectl does and exits non-zero.
			cmdutil.CheckErr(err)
		}
		return 0
	},
}

func usage() {
	names := make([]string, 0, len(components))
	for name := range components {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: controlplane <%s> [flags]\n", strings.Join(names, "|"))
}

func main() {
	// Called through a symlink named after a component (like busybox), or as
	// "controlplane <component> ...".
	name := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if _, ok := components[name]; !ok {
		if len(args) == 0 {
			usage()
			os.Exit(2)
		}
		name, args = args[0], args[1:]
	}
	run, ok := components[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "controlplane: unknown component %q\n", name)
		usage()
		os.Exit(2)
	}
	os.Exit(run(args))
}
