"""Streaming a stored file of a version: never built in the request."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404

from curation.exports.models import Export, ExportStatus
from curation.projects.services import ServiceError


def file_response(export: Export, name: str | None) -> FileResponse:
    """The named file, or the zip bundle when no name is given."""
    if export.status != ExportStatus.COMPLETE:
        raise ServiceError(f"Version {export.version} is {export.status}; nothing to download yet.")
    entry = (
        export.file_named(name)
        if name
        else next((f for f in export.files if f.get("kind") == "bundle"), None)
    )
    if entry is None:
        raise Http404("No such file in this version.")
    response = FileResponse(
        default_storage.open(entry["path"], "rb"), as_attachment=True, filename=entry["name"]
    )
    response["X-Checksum-SHA256"] = entry["sha256"]
    return response
