"""Collections and their documents: list, read, upload (indexed by a background job) and delete."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from viqa.api.deps import (
    IndexOpsDep,
    JobsDep,
    PipelineDep,
    ReadAuth,
    SettingsDep,
    WriteAuth,
)
from viqa.api.errors import ERROR_RESPONSES, ApiError, ErrorOut
from viqa.api.jobs import Job, JobRegistry
from viqa.api.schemas import (
    NAME_MAX_CHARS,
    NAME_PATTERN,
    CollectionList,
    DocumentList,
    DocumentOut,
    DocumentSummary,
    DocumentUpload,
)
from viqa.api.uploads import document_from_file, document_from_json, with_metadata
from viqa.errors import InputError, NotFoundError
from viqa.index.ingest import check_words
from viqa.index.store import validate_name
from viqa.index.stores import collection_names, open_collection
from viqa.settings import Settings
from viqa.types import Document

router = APIRouter(prefix="/v1", tags=["documents"], responses=ERROR_RESPONSES)

CollectionName = Annotated[str, Path(pattern=NAME_PATTERN, max_length=NAME_MAX_CHARS,
                                     description="Collection name (letters, digits, _ . -).")]
DocId = Annotated[str, Path(pattern=NAME_PATTERN, max_length=NAME_MAX_CHARS,
                            description="Document id, e.g. bao-cao-thang-11.")]

_MULTIPART_SCHEMA = {
    "type": "object",
    "properties": {
        "file": {"type": "string", "format": "binary",
                 "description": "A .txt, .md, .pdf, .docx or .html file; repeat for more."},
        "doc_id": {"type": "string", "pattern": NAME_PATTERN, "maxLength": NAME_MAX_CHARS},
        "title": {"type": "string", "maxLength": 200},
        "date": {"type": "string", "format": "date", "description": "The document's date, for filters."},
        "tags": {"type": "string", "description": "Comma-separated tags, for filters.", "maxLength": 1000},
        "replace": {"type": "string", "enum": ["true", "false"],
                    "description": "true: the file may take the id of another source in the collection."},
    },
    "required": ["file"],
}
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": _MULTIPART_SCHEMA},
            "application/json": {
                "schema": DocumentUpload.model_json_schema(),
                "example": DocumentUpload.model_config["json_schema_extra"]["examples"][0],
            },
        },
    }
}


@router.get("/collections", response_model=CollectionList)
def collections(settings: SettingsDep, _: ReadAuth) -> CollectionList:
    """Collections that have an index."""
    return CollectionList(default=settings.default_collection, collections=collection_names(settings))


@router.get("/collections/{name}/documents", response_model=DocumentList)
def list_documents(name: CollectionName, pipeline: PipelineDep, _: ReadAuth) -> DocumentList:
    """The documents of a collection, by id."""
    listing = pipeline.listing(validate_name(name))  # no document's text is read
    passages = pipeline.passage_counts(name)
    return DocumentList(
        collection=name,
        documents=[DocumentSummary(doc_id=d.doc_id, title=d.title, chars=chars, sha256=d.sha256, date=d.date,
                                   tags=list(d.tags), format=d.format, pages=len(d.pages) or None,
                                   passages=passages.get(d.doc_id, 0))
                   for d, chars in listing],
    )


@router.get("/collections/{name}/documents/{doc_id}", response_model=DocumentOut)
def get_document(
    name: CollectionName,
    doc_id: DocId,
    pipeline: PipelineDep,
    _: ReadAuth,
    start: Annotated[int | None, Query(ge=0, description="First character (default 0).")] = None,
    end: Annotated[int | None, Query(ge=0, description="End character, exclusive (clamped to the length).")] = None,
) -> DocumentOut:
    """A document's text, or the slice ``text[start:end]`` (to show a cited passage in its context)."""
    doc = _document(pipeline.documents(validate_name(name)), name, validate_name(doc_id, "document"))
    lo = 0 if start is None else start
    hi = len(doc.text) if end is None else min(end, len(doc.text))
    if lo > hi:
        raise InputError(f"start ({lo}) is after end ({hi}); the document has {len(doc.text)} characters")
    return DocumentOut(doc_id=doc.doc_id, title=doc.title, sha256=doc.sha256, chars=len(doc.text),
                       start=lo, end=hi, text=doc.text[lo:hi], format=doc.format, page_starts=list(doc.pages))


@router.get(
    "/collections/{name}/documents/{doc_id}/pages/{page}.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The page, the span highlighted."}},
)
def page_image(
    name: CollectionName,
    doc_id: DocId,
    page: Annotated[int, Path(ge=1, le=100_000, description="1-based page number.")],
    pipeline: PipelineDep,
    settings: SettingsDep,
    _: ReadAuth,
    start: Annotated[int | None, Query(ge=0, description="Highlight from this character of the text.")] = None,
    end: Annotated[int | None, Query(ge=0, description="... to this one, exclusive.")] = None,
    width: Annotated[int, Query(ge=100, le=2000, description="Image width in pixels.")] = 1000,
) -> Response:
    """A PDF page as a PNG, with ``text[start:end]`` highlighted (a citation's ``char_start``/``char_end``)."""
    from viqa.index.formats.pdf import page_image as render

    doc = _document(pipeline.documents(validate_name(name)), name, validate_name(doc_id, "document"))
    if doc.format != "pdf":
        raise NotFoundError(f"document {doc_id!r} is not a PDF: it has no page images")
    if page > len(doc.pages):
        raise NotFoundError(f"document {doc_id!r} has {len(doc.pages)} pages, not {page}")
    if (start is None) != (end is None) or (start is not None and end is not None and start > end):
        raise InputError("give both start and end, with start <= end")
    source = open_collection(settings, name).source(doc.doc_id)
    if source is None:
        raise NotFoundError(f"document {doc_id!r}: its PDF is not kept in this index; upload it again")
    spans = [] if start is None or end is None else [(start, end)]
    png = render(source, page, spans, width=width, ocr_language=settings.ocr_language)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


def _check_room(jobs: JobRegistry, settings: Settings) -> None:
    """503 with Retry-After when ``max_waiting_jobs`` jobs are already queued or running."""
    if jobs.waiting() >= settings.max_waiting_jobs:
        raise ApiError(503, "busy", f"{settings.max_waiting_jobs} indexing jobs are already waiting; try again later",
                       {"Retry-After": "30"})


def _document(docs: Mapping[str, Document], collection: str, doc_id: str) -> Document:
    if doc_id not in docs:
        raise NotFoundError(f"no document {doc_id!r} in collection {collection!r}")
    return docs[doc_id]


def _check_indexable(doc: Document, settings: Settings) -> None:
    """413 for a document over ``max_file_mb``; InputError for one without words: refused at once, not as a
    failed job."""
    limit = int(settings.max_file_mb * 2**20)
    size = len(doc.source) if doc.source is not None else len(doc.text.encode("utf-8"))
    if size > limit:
        raise ApiError(413, "payload_too_large", f"{doc.doc_id}: {size} bytes is over the {limit} byte limit")
    check_words(doc)


async def _uploaded_documents(request: Request, settings: Settings) -> tuple[list[Document], bool, dict[str, str]]:
    """The documents of a multipart (``file`` parts) or JSON (DocumentUpload) request body, whether they may
    take the ids of other sources (``replace``), and the files of several that cannot be indexed (name → reason;
    InputError when a single file, or every file, cannot be; 413 for one over the size limit)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        async with request.form(max_files=100, max_fields=10) as form:
            files = [f for f in form.getlist("file") if isinstance(f, UploadFile)]
            doc_id, title, date, tags, replace = (form.get(k) for k in ("doc_id", "title", "date", "tags", "replace"))
            if not files:
                raise InputError("send the document as a multipart part named 'file'")
            if len(files) > 1 and (doc_id or title):
                raise InputError("doc_id and title can only be given with a single file")
            doc_id = doc_id if isinstance(doc_id, str) else None
            title = title if isinstance(title, str) else None
            date = date if isinstance(date, str) and date.strip() else None
            tag_list = tags.split(",") if isinstance(tags, str) else []
            docs, refused = [], {}
            for f in files:  # a PDF or DOCX takes a while to read: off the event loop
                data = await f.read()
                try:
                    doc = await run_in_threadpool(document_from_file, data, f.filename or "upload.txt", doc_id, title,
                                                 settings)
                    _check_indexable(doc, settings)
                except InputError as exc:
                    if len(files) == 1:
                        raise
                    refused[f.filename or "upload.txt"] = str(exc)
                    continue
                docs.append(with_metadata(doc, date, tag_list))
            if not docs:
                raise InputError(f"none of the {len(files)} files can be indexed: " + "; ".join(refused.values()))
            return docs, isinstance(replace, str) and replace.strip().lower() in ("1", "true", "yes", "on"), refused
    if content_type == "application/json":
        try:  # parsing first: pydantic's ValidationError is a ValueError too, and names the bad field
            body = json.loads(await request.body())
        except (ValueError, RecursionError) as exc:
            raise ApiError(422, "validation_error", f"the body is not valid JSON: {type(exc).__name__}") from None
        try:
            upload = DocumentUpload.model_validate(body)
        except ValidationError as exc:
            raise RequestValidationError(exc.errors(include_url=False, include_input=False)) from None
        doc = document_from_json(upload.text, upload.doc_id, upload.title)
        _check_indexable(doc, settings)
        date = None if upload.date is None else upload.date.isoformat()
        return [with_metadata(doc, date, upload.tags)], upload.replace, {}
    raise ApiError(415, "unsupported_media_type", "send multipart/form-data (a 'file' part) or application/json")


@router.post(
    "/collections/{name}/documents",
    status_code=202,
    response_model=Job,
    openapi_extra=_UPLOAD_BODY,
    responses={415: {"model": ErrorOut, "description": "Unsupported Media Type"}},
)
async def upload_documents(
    name: CollectionName, _: WriteAuth, request: Request, response: Response, pipeline: PipelineDep,
    settings: SettingsDep, jobs: JobsDep, ops: IndexOpsDep,
) -> Job:
    """Queue the indexing of uploaded documents (same upload again: skipped or replaced; another source's id:
    refused unless ``replace``; the same content under another id: stored once). Poll the job. Of several files,
    those that cannot be read are listed in the job's ``report.failed`` and the others are indexed."""
    collection = open_collection(settings, name)
    _check_room(jobs, settings)
    documents, replace, refused = await _uploaded_documents(request, settings)
    job = await run_in_threadpool(
        lambda: jobs.submit("ingest", collection.name, documents=documents, replace=replace, refused=refused))
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return job


@router.delete("/collections/{name}/documents/{doc_id}", status_code=202, response_model=Job)
def delete_document(
    name: CollectionName, doc_id: DocId, _: WriteAuth, response: Response, pipeline: PipelineDep,
    settings: SettingsDep, jobs: JobsDep, ops: IndexOpsDep,
) -> Job:
    """Queue the removal of a document; 404 at once if the collection has no such document."""
    collection = open_collection(settings, name)
    doc_id = validate_name(doc_id, "document")
    _document(pipeline.documents(collection.name), name, doc_id)
    _check_room(jobs, settings)
    job = jobs.submit("delete", collection.name, doc_ids=[doc_id])
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return job
