"""What the gateway (edge/) and the hub (hub/) share beneath them: the MQTT connection, the
channel each side speaks on it, and token files. Imports neither side."""
