"""A small OpenAPI tool server (Starlette) with its OpenAPI 3 and Swagger 2 specs.

Every endpoint answers with what it received, so tests see exactly the request a tool
built: path and query values, headers, cookies, JSON and form bodies."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

API_KEY = "s3cret-key"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


def openapi3(server_url: str = "/v1") -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Pet store", "version": "1"},
        "servers": [{"url": server_url}],
        "paths": {
            "/pets": {
                "get": {
                    "operationId": "listPets",
                    "summary": "List pets",
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                        {
                            "name": "tags",
                            "in": "query",
                            "schema": {"type": "array", "items": {"type": "string"}},
                        },
                    ],
                },
                "post": {
                    "operationId": "createPet",
                    "summary": "Create a pet",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/NewPet"}}
                        },
                    },
                },
            },
            "/pets/{pet_id}": {
                "parameters": [
                    {
                        "name": "pet_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                    }
                ],
                "get": {
                    "summary": "One pet (needs the API key header)",
                    "parameters": [
                        {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
                        {"name": "session", "in": "cookie", "schema": {"type": "string"}},
                    ],
                },
            },
            "/login": {
                "post": {
                    "operationId": "login",
                    "requestBody": {
                        "content": {
                            "application/x-www-form-urlencoded": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "user": {"type": "string"},
                                        "remember": {"type": "boolean"},
                                    },
                                    "required": ["user"],
                                }
                            }
                        }
                    },
                }
            },
            "/photo": {"get": {"operationId": "photo", "summary": "A PNG"}},
            "/status": {"get": {"operationId": "status", "summary": "Plain text"}},
        },
        "components": {
            "schemas": {
                "NewPet": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string", "description": "Pet name"},
                        "age": {"type": "integer"},
                        "kind": {"type": "string", "enum": ["cat", "dog"]},
                        "owner": {"$ref": "#/components/schemas/Owner"},
                    },
                },
                "Owner": {"type": "object", "properties": {"name": {"type": "string"}}},
            }
        },
    }


def swagger2(host: str) -> dict[str, Any]:
    return {
        "swagger": "2.0",
        "info": {"title": "Pet store v2", "version": "1"},
        "host": host,
        "basePath": "/v1",
        "schemes": ["http"],
        "paths": {
            "/pets": {
                "get": {
                    "operationId": "listPets",
                    "parameters": [{"name": "limit", "in": "query", "type": "integer"}],
                },
                "post": {
                    "operationId": "createPet",
                    "parameters": [
                        {
                            "name": "pet",
                            "in": "body",
                            "required": True,
                            "schema": {"$ref": "#/definitions/NewPet"},
                        }
                    ],
                },
            },
            "/login": {
                "post": {
                    "parameters": [
                        {"name": "user", "in": "formData", "type": "string", "required": True}
                    ]
                }
            },
        },
        "definitions": {
            "NewPet": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
            }
        },
    }


async def list_pets(request: Request) -> Response:
    return JSONResponse(
        {"limit": request.query_params.get("limit"), "tags": request.query_params.getlist("tags")}
    )


async def create_pet(request: Request) -> Response:
    body = await request.json()
    return JSONResponse({"id": 7, "received": body}, status_code=201)


async def get_pet(request: Request) -> Response:
    if request.headers.get("x-api-key") != API_KEY:
        return JSONResponse({"error": "bad key"}, status_code=401)
    return JSONResponse(
        {
            "id": int(request.path_params["pet_id"]),
            "trace": request.headers.get("x-trace"),
            "session": request.cookies.get("session"),
        }
    )


async def login(request: Request) -> Response:
    form = await request.form()
    return JSONResponse({"content_type": request.headers["content-type"], "form": dict(form)})


async def photo(request: Request) -> Response:
    return Response(PNG, media_type="image/png")


async def status(request: Request) -> Response:
    return PlainTextResponse("all good")


def app() -> Starlette:
    async def spec3(request: Request) -> Response:
        return JSONResponse(openapi3())

    async def spec2(request: Request) -> Response:
        return JSONResponse(swagger2(request.headers["host"]))

    return Starlette(
        routes=[
            Route("/openapi.json", spec3),
            Route("/swagger.json", spec2),
            Route("/v1/pets", list_pets, methods=["GET"]),
            Route("/v1/pets", create_pet, methods=["POST"]),
            Route("/v1/pets/{pet_id}", get_pet),
            Route("/v1/login", login, methods=["POST"]),
            Route("/v1/photo", photo),
            Route("/v1/status", status),
        ]
    )
