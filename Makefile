# virtkube build entry points. `make controlplane` builds the local Kubernetes
# control plane (and the nodes' kubelet), `make noderuntime` the nodes' containerd;
# Go's build cache (GOCACHE) makes a second run cheap.

KUBE_VERSION := v1.37.2
KUBE_MINOR   := 37
BIN          := $(CURDIR)/bin
PYTHON       ?= $(CURDIR)/.venv/bin/python
GO_LDFLAGS   := -s -w \
	-X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=$(KUBE_MINOR) \
	-X k8s.io/component-base/version.gitTreeState=clean \
	-X k8s.io/client-go/pkg/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/client-go/pkg/version.gitMajor=1 \
	-X k8s.io/client-go/pkg/version.gitMinor=$(KUBE_MINOR)
# containerd, its runc shim and ctr for the real local nodes (noderuntime/go.mod pins the
# same release); the tags leave out snapshotters that need cgo or host tools.
CONTAINERD_VERSION := 2.4.2
CONTAINERD_TAGS    := no_btrfs no_devmapper no_zfs
CONTAINERD_LDFLAGS := -s -w -X github.com/containerd/containerd/v2/version.Version=$(CONTAINERD_VERSION)
CONTAINERD_CMDS    := containerd containerd-shim-runc-v2 ctr

.PHONY: deps controlplane noderuntime crds guest-images node-images launcher-image images lint test up down \
	bench bench-quick \
	deviceplugin-proto

# Debian packages and the Python venv; a no-op when all are there.
deps:
	hack/install-deps.sh

# The README's first command: everything built, the local cluster up, the demo VM running.
up: deps controlplane noderuntime images
	.venv/bin/virtkube up
	.venv/bin/virtkube kubectl apply -f examples/vm-tiny.yaml
	.venv/bin/virtkube kubectl wait vm/vm-tiny --for=jsonpath='{.status.printableStatus}'=Running --timeout=180s
	.venv/bin/virtkube kubectl get vm,vmi

down:
	.venv/bin/virtkube down

controlplane: $(BIN)/controlplane

# Go decides what is stale; the target always asks it (a no-op build is ~seconds).
.PHONY: $(BIN)/controlplane
$(BIN)/controlplane:
	@mkdir -p $(BIN)
	cd controlplane && CGO_ENABLED=0 go build -buildvcs=false -trimpath -ldflags '$(GO_LDFLAGS)' -o $(BIN)/controlplane .

noderuntime: $(BIN)/containerd

# Go decides what is stale, as for the control plane.
.PHONY: $(BIN)/containerd
$(BIN)/containerd:
	@mkdir -p $(BIN)
	cd noderuntime && CGO_ENABLED=0 go build -buildvcs=false -trimpath -tags '$(CONTAINERD_TAGS)' \
		-ldflags '$(CONTAINERD_LDFLAGS)' -o $(BIN)/ \
		$(addprefix github.com/containerd/containerd/v2/cmd/,$(CONTAINERD_CMDS))

# The kubelet's device plugin messages for virt-handler (the generated files are committed:
# an editable install has no build step, and grpcio-tools is a dev dependency only).
deviceplugin-proto: deps
	cd src && $(PYTHON) -m grpc_tools.protoc -I . --python_out=. \
		--pyi_out=. virtkube/handler/deviceplugin/api.proto

crds: deps
	$(PYTHON) -m virtkube.api.crdgen deploy/crds

guest-images: deps
	$(PYTHON) -m images.build

# The utility and pause images of the real nodes (busybox-static), as an OCI archive.
node-images: deps
	$(PYTHON) -m images.utility

# The virt-launcher image (Debian bookworm by mmdebstrap + virtkube's wheel), cached by inputs.
launcher-image: deps
	$(PYTHON) -m images.launcher

# Every image the project builds.
images: launcher-image node-images guest-images

lint: deps
	.venv/bin/ruff check
	.venv/bin/mypy
	.venv/bin/lint-imports

# The README's second command: lint, then every test tier.
test: deps controlplane noderuntime images lint
	.venv/bin/pytest

# Benchmarks on a fresh local cluster (kubelet + containerd, pulling the images from the
# local registry); figures beside baselines from the same run and beside the stand-in
# nodes' last ones.

bench: deps controlplane noderuntime images
	.venv/bin/python -m bench.lifecycle

# The same instruments with few samples: CI runs it to keep them working.
bench-quick: deps controlplane noderuntime images
	.venv/bin/python -m bench.lifecycle --quick --out build/bench/quick.json
