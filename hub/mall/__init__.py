"""The points mall (积分商城): goods, services and partner perks members buy with points."""
