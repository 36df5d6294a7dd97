"""The pages the gateway serves to the shop floor: the cashier page bound to its lane and the
staff mobile order page (docs/lanes.md "Pages")."""
