"""The HTTP API (``loyalty serve``): versioned under ``/v1``, programmes kept apart, API keys with scopes,
exactly once by ``Idempotency-Key``, errors as problem documents.

- :mod:`.keys`: API keys and scopes (``loyalty key create|list|revoke``);
- :mod:`.idempotency`: a retried write gets the original answer;
- :mod:`.problems`: the error tree as HTTP statuses (RFC 9457 problem documents);
- :mod:`.programmes`: which ledgers (with their charts and rules) are served;
- :mod:`.writes`, :mod:`.reads`: the endpoints, each one call of the services the CLI uses;
- :mod:`.context`, :mod:`.server`: the FastAPI application; :mod:`.serving`: running it under uvicorn.
"""
