"""Gunicorn's settings for `make run` and the Procfile's `web:` (gunicorn reads this file from
the working directory by itself)."""

from gunicorn.http import wsgi

# Gunicorn names itself in a Server header on every response; there is no setting for it.
# Telling the world which server runs here only helps whoever looks for a known hole.
wsgi.SERVER = "-"
