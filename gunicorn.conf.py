"""Gunicorn's settings for `make run` and the Procfile's `web:` (gunicorn reads this file from
the working directory by itself)."""

from gunicorn.http import wsgi

# Gunicorn names itself in a Server header on every response; there is no setting for it.
# Telling the world which server runs here only helps whoever looks for a known hole.
wsgi.SERVER = "-"

# On SIGTERM a worker finishes the requests in hand (webhooks answer in well under a second),
# then stops its sender threads: they make no new call and release what they hold.
# 10 s: a call in flight may take 5 s (the sender's timeout), then the rest is given back.
graceful_timeout = 10


def worker_exit(_server, worker) -> None:
    """Release the sender threads' claims before the worker process ends."""
    app = getattr(worker, "wsgi", None)
    if app is not None and "runtime" in getattr(app, "extensions", {}):
        app.extensions["runtime"].stop()


# Gunicorn 27 opens a control socket at one shared path in $HOME; nothing here uses it, and two
# instances on one machine (tests, benchmarks, a second app) would fight over it.
control_socket_disable = True
