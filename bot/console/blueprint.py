"""The console's blueprint, which its view modules add their pages to."""

from flask import Blueprint

blueprint = Blueprint("console", __name__, url_prefix="/console")
