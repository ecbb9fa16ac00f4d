"""Starlette's helpers for running blocking code from async code."""

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool, run_until_first_complete

__all__ = ["iterate_in_threadpool", "run_in_threadpool", "run_until_first_complete"]
