"""Loyalty points: an append-only ledger of earns and debits, lots spent first-to-expire first,
reservations for lanes, the points mall; plus the ingest handlers and jobs that drive them."""
