"""The test rig, shared by tests/ and bench/ (neither imports the other): real processes
(Mosquitto, `storegw hub`, `storegw edge`), one way to wait for a condition, and sample bodies.
It is not part of the product and is not shipped in the wheel."""

from rig.processes import Broker, Edge, Hub, Proc, Server, free_port
from rig.samples import RECEIPT_ENVELOPE, sale_body
from rig.waiting import until, wait_until

__all__ = [
    "RECEIPT_ENVELOPE",
    "Broker",
    "Edge",
    "Hub",
    "Proc",
    "Server",
    "free_port",
    "sale_body",
    "until",
    "wait_until",
]
