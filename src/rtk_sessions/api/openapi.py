"""What the OpenAPI document says beyond what Litestar reads off the types.

- Request bodies that refuse unknown fields say so (``additionalProperties: false``):
  a client reading the document must not expect an extra field to be ignored.
- A response field that may be unknown is optional and never ``null``: the answer
  Structs declare it ``X | None = None`` with ``omit_defaults``, so ``None`` is left
  out of the JSON (api.md). Litestar documents such a field as ``X`` or ``null``;
  the document says what is sent: ``X``, not required.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
from litestar import Litestar
from litestar.openapi.spec import OpenAPIType, Schema

from rtk_sessions.api.downloads import SummaryRequestBody

STRICT_BODIES = (SummaryRequestBody,)


def document_schema(app: Litestar) -> None:
    schemas = app.openapi_schema.components.schemas or {}
    for body in STRICT_BODIES:
        component = schemas.get(body.__name__)
        if component is not None and body.__struct_config__.forbid_unknown_fields:
            component.additional_properties = False
    for struct in _answer_structs():
        component = schemas.get(struct.__name__)
        if component is None or not component.properties:
            continue
        for name in _fields_left_out_when_unknown(struct):
            prop = component.properties.get(name)
            if isinstance(prop, Schema):
                component.properties[name] = _without_null(prop)


def _answer_structs(base: type = msgspec.Struct) -> Iterator[type[msgspec.Struct]]:
    """Our Structs that leave defaults out of the JSON, however deep the subclassing."""
    for struct in base.__subclasses__():
        if struct.__module__.startswith("rtk_sessions.") and struct.__struct_config__.omit_defaults:
            yield struct
        yield from _answer_structs(struct)


def _fields_left_out_when_unknown(struct: type[msgspec.Struct]) -> list[str]:
    """JSON names of the fields whose default is None (unknown: left out)."""
    defaults = struct.__struct_defaults__
    fields = struct.__struct_encode_fields__[len(struct.__struct_fields__) - len(defaults) :]
    return [name for name, default in zip(fields, defaults, strict=True) if default is None]


def _without_null(prop: Schema) -> Schema:
    """``prop`` without its null variant: ``oneOf: [X, null]`` becomes ``X``; an enum
    typed ``[null, string]`` becomes a string enum."""
    if isinstance(prop.type, list):
        prop.type = [t for t in prop.type if t != OpenAPIType.NULL]
        if len(prop.type) == 1:
            prop.type = prop.type[0]
        if prop.enum:
            prop.enum = [value for value in prop.enum if value is not None]
    if not prop.one_of:
        return prop
    kept = [s for s in prop.one_of if not (isinstance(s, Schema) and s.type == OpenAPIType.NULL)]
    if len(kept) == 1:
        return kept[0]
    prop.one_of = kept
    return prop
