//go:build tools

// Package tools pins the Kubernetes commands this module builds (cmd/kube links them all into one
// binary; kubectl alone is built for envtest assets).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kubectl"
)
