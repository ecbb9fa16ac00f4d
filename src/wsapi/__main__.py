"""`python -m wsapi main:app [uvicorn options]`: see `wsapi.server`."""

from wsapi.server import main

main()
