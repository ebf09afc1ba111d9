"""virt-api: admission webhooks for kubevirt.io objects and the aggregated API
`subresources.kubevirt.io/v1` (start, stop, restart, migrate, pause, console, vnc, ...).

Pure decisions live in defaults.py, validation.py (+ checks/) and lifecycle.py;
webhooks.py and subresources.py turn HTTP into those calls; server.py runs it.
"""
