"""Coupons: templates, issuance (by hand, in bulk, by trigger), atomic redemption."""
