"""Short links to a workshop's map: one short line in the chat instead of a long encoded URL.

bot.workshops.map_link makes the links; this serves them."""

from __future__ import annotations

from flask import Blueprint, abort, redirect
from werkzeug.wrappers import Response

from bot.runtime import runtime
from storage.models import Workshop

blueprint = Blueprint("maps", __name__)


@blueprint.get("/map/<int:workshop_id>")
def workshop_map(workshop_id: int) -> Response:
    """Send the phone on to the workshop's map (a venue is public: the id needs no secret)."""
    with runtime().read_db() as session:
        workshop = session.get(Workshop, workshop_id)
        target = workshop.map_url if workshop else ""
    # Only a web address: a stored "javascript:" or app URL is never followed from our domain.
    if not target.startswith(("https://", "http://")):
        abort(404)
    return redirect(target, code=302)
