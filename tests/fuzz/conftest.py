from tests.service.conftest import clock, settings  # noqa: F401  (the same settings as the service tests)
