"""The `storegw` command: wires the gateway (edge/) and the hub (hub/) into one CLI and the
demo. Nothing imports this package; it may import either side."""
