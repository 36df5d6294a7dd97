"""Payments: attempts journaled before each request (attempts), card and QR flows (flows),
cash rules (cash), and the service the gateway wires in (service.Payments)."""

from edge.payments.service import Payments

__all__ = ["Payments"]
