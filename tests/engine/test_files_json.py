"""`files.to_json`: the one File -> JSON conversion every payload, template and column uses."""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal

from chatflow.engine.files import File, to_json

FILE = File(type="image", transfer_method="remote_url", url="https://x/y.png", filename="y.png")


def test_files_anywhere_become_dify_file_dicts() -> None:
    value = {"one": FILE, "many": [FILE, (FILE,)], "nested": OrderedDict(f=FILE)}
    out = to_json(value)
    as_dict = FILE.to_dict()
    assert out == {"one": as_dict, "many": [as_dict, [as_dict]], "nested": {"f": as_dict}}
    assert as_dict["dify_model_identity"] == "__dify__file__" and as_dict["related_id"] is None
    assert type(out["nested"]) is dict  # mappings become plain dicts, tuples lists


def test_keys_become_strings_and_scalars_pass_through() -> None:
    assert to_json({1: True, "x": None, "y": 1.5}) == {"1": True, "x": None, "y": 1.5}
    assert to_json("text") == "text" and to_json(3) == 3


def test_decimals_are_kept_unless_a_conversion_is_given() -> None:
    price = Decimal("0.0015")
    assert to_json([price]) == [price]
    # Dify's templates see prices through JSON: floats.
    assert to_json({"p": price}, float) == {"p": 0.0015}
