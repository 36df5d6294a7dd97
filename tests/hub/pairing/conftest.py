from tests.hub.auth.conftest import hub  # noqa: F401  (the in-process hub with role accounts)
