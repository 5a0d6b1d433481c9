"""Bring-up of a private PostgreSQL cluster and Formance Ledger server on loopback.

This is the project's own way to run the real server on a developer machine or
in CI without Docker. Everything it starts is recorded in a state file so that
``down`` stops exactly those processes and nothing else.
"""

from .stack import LocalStack, StackStatus, start_stack

__all__ = ["LocalStack", "StackStatus", "start_stack"]
