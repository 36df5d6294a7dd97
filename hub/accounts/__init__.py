"""Accounts: people who sign in to the hub (HQ staff, store managers, technicians), their
roles and stores, their sessions (console cookies and API refresh tokens)."""
