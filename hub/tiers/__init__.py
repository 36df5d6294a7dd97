"""Member tiers: configurable levels, upgrade on rolling 12-month spend or points, downgrade
modes, a change log."""
