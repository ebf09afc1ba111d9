"""virtctl's commands, one module per verb group (as KubeVirt's pkg/virtctl/<verb>/); cli.py
assembles them into one typer app."""
