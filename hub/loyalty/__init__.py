"""Loyalty points: an append-only ledger of earns and debits, lots spent first-to-expire first,
reservations for lanes; plus the ingest handlers that earn and reverse points from sales."""
