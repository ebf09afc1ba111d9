//go:build tools

// Package noderuntime pins containerd v2, its runc shim and ctr for virtkube's real local
// nodes (issue 12), in a Go module of their own: containerd's dependencies would fight the
// control plane's (k8s.io/kubernetes) over shared modules such as grpc and otel. The
// Makefile builds the three commands straight from the module (`make noderuntime`).
package noderuntime

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
