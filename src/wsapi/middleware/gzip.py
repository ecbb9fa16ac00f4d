from starlette.middleware.gzip import GZipMiddleware

__all__ = ["GZipMiddleware"]
