"""Signed tokens and the keys that verify them: the declaration token (COSE_Sign1/CWT, `cose`), the trust
anchor's signed key list (`trustlist`), the wallet's bearer tokens (`wallet_auth`) and tokens carried as QR
images (`qr`). Crypto with its rules kept apart from runtime/, the plumbing with none."""
