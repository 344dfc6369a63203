"""Exact bytes for stream items, so a Redis stream hands subscribers what the run published.

`DataclassCodec(types)` encodes registered frozen dataclasses (the engine's events, the
turn's end, `Usage`, `File`...) and the Python values inside them as tagged JSON, and
decodes them back to equal objects: tuples stay tuples, Decimals stay Decimals, dicts
with non-string keys, sets, bytes, datetimes, non-finite floats and integers beyond 64
bits all survive. Values of any other type (rare: a node's outputs hold JSON-like data)
become what the wire would print for them (`api/_json.py`): a dataclass its `asdict`, an
enum its value, anything else `str(value)`. No pickle: what comes out of Redis is data.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import orjson

_TAG = "\x00t"  # a key no real payload dict uses; dicts that do are tagged themselves
_INT64 = 2**63


class DataclassCodec:
    """Tagged-JSON codec for a closed set of dataclass types (looked up by class name)."""

    def __init__(self, types: Iterable[type[Any]]) -> None:
        self._types: dict[str, type[Any]] = {}
        for cls in types:
            if not dataclasses.is_dataclass(cls):
                raise TypeError(f"{cls!r} is not a dataclass")
            self._types[cls.__name__] = cls

    def dumps(self, value: Any) -> bytes:
        return orjson.dumps(self._encode(value))

    def loads(self, data: bytes | str) -> Any:
        return self._decode(orjson.loads(data))

    # -- encoding ------------------------------------------------------------------------

    def _encode(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int) and not isinstance(value, enum.Enum):
            return value if -_INT64 < value < _INT64 else {_TAG: "int", "v": str(value)}
        if isinstance(value, float):
            return value if math.isfinite(value) else {_TAG: "float", "v": repr(value)}
        if isinstance(value, dict):
            return self._mapping(value)
        if isinstance(value, list):
            return [self._encode(item) for item in value]
        if isinstance(value, tuple):
            return {_TAG: "tuple", "v": [self._encode(item) for item in value]}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self._dataclass(value)
        return self._scalar(value)

    def _mapping(self, value: Mapping[Any, Any]) -> Any:
        if _TAG not in value and all(type(key) is str for key in value):
            return {key: self._encode(item) for key, item in value.items()}
        pairs = [[self._encode(k), self._encode(v)] for k, v in value.items()]
        return {_TAG: "dict", "v": pairs}

    def _dataclass(self, value: Any) -> Any:
        cls = type(value)
        if self._types.get(cls.__name__) is not cls:
            # Unknown dataclass: the wire prints `asdict`, so that is what travels.
            return self._encode(dataclasses.asdict(value))
        fields = {f.name: self._encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {_TAG: "dc", "c": cls.__name__, "v": fields}

    def _scalar(self, value: Any) -> Any:
        if isinstance(value, Decimal):
            return {_TAG: "dec", "v": str(value)}
        if isinstance(value, bytes):
            return {_TAG: "bytes", "v": base64.b64encode(value).decode("ascii")}
        if isinstance(value, set | frozenset):
            kind = "set" if isinstance(value, set) else "fset"
            return {_TAG: kind, "v": [self._encode(item) for item in value]}
        if isinstance(value, dt.datetime):
            return {_TAG: "dt", "v": value.isoformat()}
        if isinstance(value, dt.date):
            return {_TAG: "date", "v": value.isoformat()}
        if isinstance(value, enum.Enum):
            return self._encode(value.value)  # orjson writes an enum as its value
        # Anything else (a non-dict Mapping included): what `api/_json.py` prints for it.
        return str(value)

    # -- decoding ------------------------------------------------------------------------

    def _decode(self, data: Any) -> Any:
        if isinstance(data, list):
            return [self._decode(item) for item in data]
        if not isinstance(data, dict):
            return data
        tag = data.get(_TAG)
        if tag is None:
            return {key: self._decode(item) for key, item in data.items()}
        raw = data["v"]
        if tag == "dc":
            cls = self._types[data["c"]]
            return cls(**{name: self._decode(item) for name, item in raw.items()})
        if tag == "tuple":
            return tuple(self._decode(item) for item in raw)
        if tag == "dict":
            return {self._decode(k): self._decode(v) for k, v in raw}
        if tag == "set":
            return {self._decode(item) for item in raw}
        if tag == "fset":
            return frozenset(self._decode(item) for item in raw)
        return _SCALARS[tag](raw)


_SCALARS: dict[str, Any] = {
    "int": int,
    "float": float,
    "dec": Decimal,
    "bytes": base64.b64decode,
    "dt": dt.datetime.fromisoformat,
    "date": dt.date.fromisoformat,
}
