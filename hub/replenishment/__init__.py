"""Replenishment (issue 14): safety stock, reorder points and alerts, suggested orders drafted
as purchase orders per supplier, transfer suggestions (`plan.py` the arithmetic, `service.py`
the hub's side), and the ABC/XYZ classification (`classify.py`)."""
