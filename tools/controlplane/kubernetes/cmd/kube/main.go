// Command kube is every Kubernetes component keywarden runs, compiled and linked once (hyperkube
// style): one link of ~200 MB instead of six, and one cache entry. It dispatches on the name it was
// started as (build.sh makes kube-apiserver, kubelet, ... symlinks to it) or on its first argument
// (`kube kubelet --help`).
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	_ "time/tzdata" // CronJob time zones (kube-apiserver, kube-controller-manager)

	"github.com/spf13/cobra"
	_ "k8s.io/client-go/plugin/pkg/client/auth"
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

// The component commands, as their own main packages build them.
var components = map[string]func() *cobra.Command{
	"kube-apiserver":          apiserver.NewAPIServerCommand,
	"kube-controller-manager": controllermanager.NewControllerManagerCommand,
	"kube-scheduler":          func() *cobra.Command { return scheduler.NewSchedulerCommand() },
	"kube-proxy":              proxy.NewProxyCommand,
	"kubelet":                 func() *cobra.Command { return kubelet.NewKubeletCommand(context.Background()) },
}

func main() {
	name := filepath.Base(os.Args[0])
	if name == "kubectl" || (len(os.Args) > 1 && os.Args[1] == "kubectl" && shift()) {
		// As cmd/kubectl/kubectl.go does.
		logs.GlogSetter(kubectlcmd.GetLogVerbosity(os.Args)) // nolint:errcheck
		if err := cli.RunNoErrOutput(kubectlcmd.NewDefaultKubectlCommand()); err != nil {
			kubectlutil.CheckErr(err)
		}
		return
	}
	newCommand, ok := components[name]
	if !ok && len(os.Args) > 1 {
		if newCommand, ok = components[os.Args[1]]; ok {
			shift()
		}
	}
	if !ok {
		fmt.Fprintf(os.Stderr, "usage: kube COMPONENT [flags] (or run it through a symlink named COMPONENT)\n"+
			"components: kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubectl\n")
		os.Exit(2)
	}
	os.Exit(cli.Run(newCommand()))
}

// shift drops the component argument so the command sees its own flags as os.Args[1:].
func shift() bool {
	os.Args = append([]string{os.Args[1]}, os.Args[2:]...)
	return true
}
