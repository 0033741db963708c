"""The console's blueprint, which its view modules add their pages to, and its error pages."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import gettext
from werkzeug.exceptions import HTTPException

blueprint = Blueprint("console", __name__, url_prefix="/console")


@blueprint.errorhandler(400)
@blueprint.errorhandler(403)
@blueprint.errorhandler(404)
def console_error(error: HTTPException) -> tuple[str, int]:
    """A refusal as a console page in the console's language, with the way back home."""
    code = error.code or 500
    return render_template(
        "console/error.html",
        title=gettext(f"console.error.{code}"),
        explain=gettext(f"console.error.{code}.explain"),
    ), code
