from tests.service.conftest import clock, running, settings  # noqa: F401  (the same fixtures as the service tests)
