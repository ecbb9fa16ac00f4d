from starlette.middleware.cors import CORSMiddleware

__all__ = ["CORSMiddleware"]
