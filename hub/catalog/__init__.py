"""Catalog, prices, promotions and tiers published to every store as versioned snapshots."""
