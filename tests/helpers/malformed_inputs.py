"""Malformed inputs: files that cannot be read (`UNREADABLE`), resources and values that cannot be used
(`bad_resources`), and a small good estate to put next to them (`good_estate`). Used by test_malformed
and test_schema.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

NET = "/subscriptions/00000000-0000-0000-0000-000000000009/resourceGroups/rg-x/providers/Microsoft.Network"
COG = "/subscriptions/00000000-0000-0000-0000-000000000009/resourceGroups/rg-x/providers/Microsoft.CognitiveServices"


def vnet(name: str, *prefixes: str, subnets: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"addressSpace": {"addressPrefixes": list(prefixes)}}
    if subnets is not None:
        props["subnets"] = subnets
    return {
        "id": f"{NET}/virtualNetworks/{name}",
        "name": name,
        "type": "Microsoft.Network/virtualNetworks",
        "location": "westeurope",
        "properties": props,
    }


def open_account(name: str = "aoai-open") -> dict[str, Any]:
    """An AI account with keys on and public access: AOAI001 (high), AOAI002 (high), AOAI004."""
    return {
        "id": f"{COG}/accounts/{name}",
        "name": name,
        "type": "Microsoft.CognitiveServices/accounts",
        "kind": "OpenAI",
        "location": "westeurope",
        "properties": {"publicNetworkAccess": "Enabled"},
    }


def good_estate() -> list[dict[str, Any]]:
    return [vnet("good", "10.50.0.0/16"), open_account()]


UNREADABLE: dict[str, tuple[str, bytes]] = {
    "truncated JSON": (
        "truncated.json",
        b'[{"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/'
        b'virtualNetworks/v", "type": "Microsoft.Network/virtualNetworks", "prop',
    ),
    "PNG bytes": ("picture.json", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"),
    "plain text": ("notes.json", b"these are not the resources you are looking for\n"),
    "empty file": ("empty.json", b""),
    "corrupt gzip": ("estate.json.gz", b"this is not gzip at all"),
    "truncated gzip": ("cut.json.gz", gzip.compress(json.dumps(good_estate()).encode())[:40]),
    "JSON scalar": ("scalar.json", b"42"),
    "JSON object of no known shape": ("other.json", b'{"hello": "world"}'),
}


def bad_resources() -> dict[str, tuple[list[dict[str, Any]], list[tuple[str | None, str | None, str]]]]:
    """case -> (resources, expected coverage.skipped (resource_id, field, effect) entries)."""
    rt = f"{NET}/routeTables/rt-bad"

    def route(name: str, prefix: str) -> dict[str, Any]:
        return {
            "id": f"{rt}/routes/{name}",
            "name": name,
            "properties": {"addressPrefix": prefix, "nextHopType": "VnetLocal"},
        }

    return {
        "object without id": (
            [{"name": "orphan", "type": "Microsoft.Network/virtualNetworks", "properties": {}}],
            [("(name 'orphan')", "id", "resource skipped")],
        ),
        "properties is a string": (
            [{**vnet("strprops"), "properties": "10.0.0.0/16"}],
            [(f"{NET}/virtualNetworks/strprops", "properties", "resource skipped")],
        ),
        "properties is a list": (
            [{**vnet("listprops"), "properties": [{"addressSpace": {}}]}],
            [(f"{NET}/virtualNetworks/listprops", "properties", "resource skipped")],
        ),
        "VNet prefix with an octet > 255": (
            [vnet("octet", "10.0.0.300/16")],
            [
                (
                    f"{NET}/virtualNetworks/octet",
                    "properties.addressSpace.addressPrefixes",
                    "resource skipped",
                ),
                (
                    f"{NET}/virtualNetworks/octet",
                    "properties.addressSpace.addressPrefixes[0]",
                    "value ignored",
                ),
            ],
        ),
        "VNet prefix length 33 next to a good one": (
            [vnet("len33", "10.0.0.0/33", "10.60.0.0/16")],
            [(f"{NET}/virtualNetworks/len33", "properties.addressSpace.addressPrefixes[0]", "value ignored")],
        ),
        "route prefixes 10.0.0.300/16 and 10.0.0.0/33": (
            [
                {
                    "id": rt,
                    "name": "rt-bad",
                    "type": "Microsoft.Network/routeTables",
                    "location": "westeurope",
                    "properties": {
                        "routes": [
                            route("octet", "10.0.0.300/16"),
                            route("len33", "10.0.0.0/33"),
                            route("fine", "10.70.0.0/16"),
                        ]
                    },
                }
            ],
            [
                (f"{rt}/routes/len33", "properties.addressPrefix", "resource skipped"),
                (f"{rt}/routes/octet", "properties.addressPrefix", "resource skipped"),
            ],
        ),
        "same id twice with conflicting content": (
            [
                vnet("twice", "10.80.0.0/16"),
                {
                    **vnet("twice", "10.81.0.0/16"),
                    "id": f"{NET}/virtualNetworks/TWICE".replace("/providers/", "/PROVIDERS/"),
                },
            ],
            [
                (
                    f"{NET}/virtualNetworks/TWICE".replace("/providers/", "/PROVIDERS/"),
                    None,
                    "conflicting copies",
                )
            ],
        ),
    }
