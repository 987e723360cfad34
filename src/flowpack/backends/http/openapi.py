"""The OpenAPI 3 description of the HTTP store protocol, served at ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from flowpack.backends.http.wire import API_VERSION

__all__ = ["openapi_document"]

_ERROR = {"$ref": "#/components/schemas/Error"}
_DIGEST_PROPS = {
    "digest": {"type": "string", "pattern": "^blake3:[0-9a-f]{64}$"},
    "size": {"type": "integer", "minimum": 0},
}


def _errors(*codes: int) -> dict[str, Any]:
    reasons = {
        400: "bad input (key, name, body or header)",
        401: "missing, unknown or expired token",
        403: "token scope or ref prefix does not allow this",
        404: "no such blob or ref",
        408: "body not received in time",
        412: "precondition failed (exists, or changed meanwhile)",
        413: "body too large",
        416: "range starts past the end",
        428: "a precondition header is required",
    }
    return {
        str(c): {
            "description": reasons[c],
            "content": {"application/json": {"schema": _ERROR}},
        }
        for c in codes
    }


def _key_param(name: str, pattern: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": pattern, "maxLength": 1024},
    }


_KEY_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}(/[A-Za-z0-9_-][A-Za-z0-9._-]{0,254})*$"
_KEY = _key_param("key", _KEY_PATTERN)
_REF_SEGMENT = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]|\.[A-Za-z0-9_-]){0,63}\.?"
_NAME = _key_param("name", f"^{_REF_SEGMENT}(/{_REF_SEGMENT})*$")
_NAME["schema"] |= {"maxLength": 512, "not": {"pattern": r"\.lock(/|$)"}}
_SEGMENT = "[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}"
_PREFIX = {
    "name": "prefix",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "pattern": f"^({_SEGMENT}/)*({_SEGMENT})?$", "maxLength": 1024},
}
_REF_PREFIX = {"name": "prefix", "in": "query", "required": False, "schema": {"type": "string"}}


def _header(name: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": required, "schema": schema}


_ETAG = {"type": "string", "pattern": '^"[A-Za-z0-9_-]*"$', "maxLength": 1024}
_CREATE_ONLY = _header("If-None-Match", {"type": "string", "enum": ["*"]})
_BLAKE3 = _header("x-flowpack-blake3", {"type": "string", "pattern": "^[0-9a-f]{64}$"})
_RANGE = _header("Range", {"type": "string", "pattern": "^bytes=[0-9]{1,15}-([0-9]{1,15})?$"})
_NDJSON = {"application/x-ndjson": {"schema": {"type": "string"}}}
_AUTH = [401, 403]


def _blob_paths() -> dict[str, Any]:
    return {
        "/blobs": {
            "get": {
                "summary": "List blobs: NDJSON {key,size,mtime} lines, then {end: count}",
                "parameters": [_PREFIX],
                "responses": {"200": {"description": "listing", "content": _NDJSON}}
                | _errors(400, *_AUTH),
            }
        },
        "/blobs:missing": {
            "post": {
                "summary": "Which of these keys the store lacks",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Keys"}}
                    },
                },
                "responses": {
                    "200": {
                        "description": "the missing keys",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Missing"}}
                        },
                    }
                }
                | _errors(400, *_AUTH, 413),
            }
        },
        "/blobs/{key}": _blob_item(),
    }


def _blob_item() -> dict[str, Any]:
    return {
        "parameters": [_KEY],
        "get": {
            "summary": "Read a blob (Range: bytes=A-B or bytes=A-)",
            "parameters": [_RANGE],
            "responses": {
                "200": {"description": "the bytes"},
                "206": {"description": "the requested range"},
            }
            | _errors(400, *_AUTH, 404, 416),
        },
        "head": {
            "summary": "Size (Content-Length) of a blob",
            "responses": {
                "200": {"description": "exists"},
                "401": {"description": "no token"},
                "403": {"description": "scope"},
                "404": {"description": "absent"},
                "400": {"description": "bad key"},
            },
        },
        "put": {
            "summary": "Store a blob: If-None-Match: * creates (write), else replaces (admin)",
            "parameters": [_CREATE_ONLY, _BLAKE3],
            "requestBody": {
                "required": True,
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            },
            "responses": {"201": {"description": "created"}, "204": {"description": "replaced"}}
            | _errors(400, *_AUTH, 408, 412, 413),
        },
        "delete": {
            "summary": "Delete a blob (admin); idempotent",
            "responses": {"204": {"description": "gone"}} | _errors(400, *_AUTH),
        },
    }


def _ref_paths() -> dict[str, Any]:
    ref_json = {"application/json": {"schema": {"$ref": "#/components/schemas/Ref"}}}
    return {
        "/refs": {
            "get": {
                "summary": "List refs: NDJSON {name,digest,size} lines, then {end: count}",
                "parameters": [_REF_PREFIX],
                "responses": {"200": {"description": "listing", "content": _NDJSON}}
                | _errors(*_AUTH),
            }
        },
        "/refs/{name}": {
            "parameters": [_NAME],
            "get": {
                "summary": "Read a ref; its ETag is the compare-and-set token",
                "responses": {"200": {"description": "the ref", "content": ref_json}}
                | _errors(400, *_AUTH, 404),
            },
            "put": {
                "summary": "Compare-and-set: If-None-Match: * (create) or If-Match: ETag "
                "(exactly one; neither is 428)",
                "parameters": [_CREATE_ONLY, _header("If-Match", _ETAG)],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Value"}}
                    },
                },
                "responses": {"200": {"description": "set", "content": ref_json}}
                | _errors(400, *_AUTH, 408, 412, 413, 428),
            },
            "delete": {
                "summary": "Compare-and-delete with If-Match: ETag",
                "parameters": [_header("If-Match", _ETAG, required=True)],
                "responses": {"204": {"description": "deleted"}} | _errors(400, *_AUTH, 412, 428),
            },
        },
    }


def _components() -> dict[str, Any]:
    info_schema = {"type": "object", "required": ["api", "capabilities", "scope"]}
    return {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error", "type"],
                "properties": {"error": {"type": "string"}, "type": {"type": "string"}},
            },
            "Value": {
                "type": "object",
                "required": ["digest", "size"],
                "properties": _DIGEST_PROPS,
            },
            "Ref": {
                "type": "object",
                "required": ["name", "digest", "size"],
                "properties": {"name": {"type": "string"}, **_DIGEST_PROPS},
            },
            "Keys": {
                "type": "object",
                "required": ["keys"],
                "properties": {
                    "keys": {
                        "type": "array",
                        "maxItems": 10000,
                        "items": {"type": "string", "pattern": _KEY_PATTERN, "maxLength": 1024},
                    }
                },
            },
            "Missing": {
                "type": "object",
                "required": ["missing"],
                "properties": {"missing": {"type": "array", "items": {"type": "string"}}},
            },
            "Info": info_schema,
        },
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.0 document of the protocol (a fresh dict each call)."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "flowpack HTTP store", "version": API_VERSION},
        "components": _components(),
        "security": [{"bearer": []}],
        "paths": {
            "/": {
                "get": {
                    "summary": "An HTML page: the store's flows, runs and other refs",
                    "responses": {"200": {"description": "the page", "content": {"text/html": {}}}}
                    | _errors(*_AUTH),
                }
            },
            "/info": {
                "get": {
                    "summary": "Capabilities, limits and the caller's scope",
                    "responses": {
                        "200": {
                            "description": "info",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Info"}
                                }
                            },
                        }
                    }
                    | _errors(*_AUTH),
                }
            },
            **_blob_paths(),
            **_ref_paths(),
        },
    }
