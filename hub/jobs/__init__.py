"""Scheduled work: the hub's timed jobs (holds timing out, points expiring, tiers, snapshots)."""
