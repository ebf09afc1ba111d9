"""`virtkube`: the embedded single-machine cluster (up, down, status, kubeconfig, kubectl)."""

from __future__ import annotations

import json
import os
import sys

import typer
import yaml
from rich.console import Console
from rich.table import Table

from virtkube.local.cluster import ClusterError, LocalCluster
from virtkube.local.paths import controlplane_binary

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="The local virtkube cluster: real Kubernetes on this machine.")
err = Console(stderr=True)
out = Console()


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


@app.command()
def up(nodes: int = typer.Option(
        None, "--nodes", min=0,
        help="How many local nodes (default 1, then what the cluster has); "
             "changing it on a running cluster needs `virtkube down` first."),
       audit: bool = typer.Option(
        None, "--audit/--no-audit",
        help="Write the API server's audit log to logs/audit.log (for benchmarks); "
             "changing it on a running cluster needs `virtkube down` first.")
       ) -> None:
    """Start the local cluster (idempotent) and install the kubevirt.io CRDs."""
    cluster = LocalCluster.default()
    try:
        with err.status("starting the local cluster") as status:
            def progress(msg: str) -> None:
                status.update(msg)
                if not err.is_terminal:
                    err.print(f"  {msg}", highlight=False, soft_wrap=True)

            seconds = cluster.up(progress, nodes=nodes, audit=audit)
    except ClusterError as e:
        _fail(str(e))
    err.print(f"[green]ready[/green] in {seconds:.1f}s: {cluster.config().apiserver_url}",
              highlight=False)
    err.print(f"kubeconfig: {cluster.home.admin_kubeconfig}  "
              f"(export KUBECONFIG=$(virtkube kubeconfig))", highlight=False)


@app.command()
def down(purge: bool = typer.Option(False, "--purge", help="Also delete all state.")) -> None:
    """Stop every process of the local cluster."""
    cluster = LocalCluster.default()
    try:
        late = cluster.down(purge=purge)
    except ClusterError as e:
        _fail(str(e))
    if late:
        err.print(f"killed {len(late)} leftover process(es): {late}")
    err.print("stopped" + (" and purged " + str(cluster.home.root) if purge else ""))


@app.command()
def status(output: str = typer.Option("", "-o", "--output", help="yaml or json")) -> None:
    """Show the supervisor, each component and whether the API server is ready."""
    cluster = LocalCluster.default()
    state = cluster.status()
    if output == "json":
        out.print_json(json.dumps(state))
    elif output == "yaml":
        sys.stdout.write(yaml.safe_dump(state, sort_keys=False))
    elif output:
        _fail(f"unknown output format {output!r}: use yaml or json", 2)
    else:
        table = Table(box=None, header_style="bold")
        for col in ("COMPONENT", "PID", "RESTARTS", "STATUS"):
            table.add_column(col)
        table.add_row("supervisor", str(state["supervisor"] or "-"), "-",
                      "Running" if state["supervisor"] else "Stopped")
        components = state["components"]
        assert isinstance(components, dict)
        for name, info in components.items():
            table.add_row(name, str(info["pid"] or "-"), str(info["restarts"]),
                          "Running" if info["pid"] else f"Exited({info['lastExit']})")
        out.print(table)
        out.print(f"ready: {state['ready']}", highlight=False)
    if not state["ready"]:
        raise typer.Exit(1)


@app.command()
def kubeconfig() -> None:
    """Print the path of the admin kubeconfig."""
    typer.echo(str(LocalCluster.default().home.admin_kubeconfig))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                               "help_option_names": []})
def kubectl(ctx: typer.Context) -> None:
    """Run the bundled kubectl against the local cluster."""
    cluster = LocalCluster.default()
    binary = controlplane_binary()
    if not binary.exists():
        _fail(f"{binary} is missing: run `make controlplane` first")
    argv = [str(binary), "kubectl", f"--kubeconfig={cluster.home.admin_kubeconfig}",
            *kubectl_args(sys.argv, ctx.args)]
    os.execv(argv[0], argv)


def kubectl_args(argv: list[str], parsed: list[str]) -> list[str]:
    """What follows `kubectl` on the command line, verbatim: click drops a `--`, which
    `kubectl exec POD -- cmd -flags` needs. `parsed` when the command is not in argv (the
    CLI called as a function)."""
    if "kubectl" in argv[1:]:
        return argv[argv.index("kubectl", 1) + 1:]
    return parsed


def main() -> None:
    app(prog_name="virtkube")
