"""Offline sandbox helpers for tests and demos: a real local registry and a token issuer. Not for production.

Import the submodules directly (``testing.registry``, ``testing.token_issuer``). This package exports
nothing, so importing it stays cheap and pulls in neither PyJWT, cryptography nor bcrypt.
"""
