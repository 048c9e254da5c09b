"""The hand-built Resource Graph rows of tests/helpers/routing_rows.py (`RowEstate`) check out: what
the builder writes loads without a problem and every row carries the Resource Graph columns."""

from __future__ import annotations

from pathlib import Path

from helpers.routing_rows import ROW_COLUMNS, hub_and_spokes


def test_builder_rows_have_the_resource_graph_columns() -> None:
    for row in hub_and_spokes().rows():
        assert tuple(row) == ROW_COLUMNS
        assert row["type"] == row["type"].lower()


def test_builder_rows_load_without_problems(tmp_path: Path) -> None:
    estate = hub_and_spokes().load(tmp_path)
    assert estate.problems == []
    assert len(estate.vnets) == 3
    assert len(estate.subnets) == 5
    assert len(estate.peerings) == 4
    pe = next(iter(estate.private_endpoints.values()))
    assert pe.ips == [(10 << 24) | (2 << 16) | (1 << 8) | 4]
    assert len(estate.connections) == 1 and len(estate.local_gateways) == 1
