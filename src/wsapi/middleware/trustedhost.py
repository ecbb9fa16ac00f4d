from starlette.middleware.trustedhost import TrustedHostMiddleware

__all__ = ["TrustedHostMiddleware"]
