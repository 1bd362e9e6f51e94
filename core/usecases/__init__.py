"""The core's use cases, one module each: a function taking the ledger's context, a connection and its input,
returning a result or raising a domain error. HTTP routes and topic consumers call the same functions;
SQL lives in the repositories (core/repository.py, core/transaction_repository.py, core/signing_key_repository.py,
core/history_store.py, core/holder_repository.py); tests/unit/test_core_layering.py holds the core to that."""
