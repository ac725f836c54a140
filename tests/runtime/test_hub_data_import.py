"""The host side of hub-data without a component: argument checks, the provider's errors
as WIT cases, the size cap, and a node without a provider."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from wasmtime.component import Variant

from harvester.runtime.hub_data_import import HubDataImport
from tests.runtime.hub_fakes import FakeHubData


def case(answer: object) -> tuple[str, str]:
    assert isinstance(answer, Variant)
    return answer.tag, answer.payload


def test_answers_are_the_providers_text() -> None:
    fake = FakeHubData()
    q = HubDataImport(fake)
    assert q.nodes() == '{"nodes": ["pi4"]}'
    assert q.logs("pi4", "", 1000) == '{"logs": "pi4  1000"}'
    assert q.series("pi4", "dht22", "t", 0.0, 0.0, 0.5) == '{"points": []}'
    assert fake.calls[-1] == ("series", "pi4", "dht22", "t", 0.0, 0.0, 0.5)


def test_a_provider_error_keeps_its_case_and_message() -> None:
    assert case(HubDataImport(FakeHubData()).node("pz")) == ("not-found", "no node 'pz'")


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda q: q.logs("pi4", "", 0), "limit must be 1-1000, got 0"),
        (lambda q: q.logs("pi4", "", 2**32 - 1), "limit must be 1-1000"),
        (lambda q: q.logs("pi4", "WARN", 5), "min-level must be"),
        (lambda q: q.latest(""), "node must be 1-256 characters"),
        (lambda q: q.node("n" * 257), "node must be 1-256 characters"),
        (lambda q: q.series("pi4", "", "t", 0, 1, 1), "plugin must be"),
        (lambda q: q.series("pi4", "p", "t", math.nan, 1, 1), "start must be a finite number"),
        (lambda q: q.series("pi4", "p", "t", 0, 1, -math.inf), "resolution must be a finite"),
        (lambda q: q.series("pi4", "p", "t", 5, 1, 1), "end (1) is before start (5)"),
        (lambda q: q.series("pi4", "p", "t", 0, 1, 0), "resolution must be more than 0"),
    ],
)
def test_bad_arguments_never_reach_the_provider(
    call: Callable[[HubDataImport], object], message: str
) -> None:
    fake = FakeHubData()
    tag, text = case(call(HubDataImport(fake)))
    assert tag == "bad-argument" and message in text
    assert fake.calls == []


def test_without_a_provider_everything_is_unavailable() -> None:
    assert case(HubDataImport(None).nodes()) == ("unavailable", "this node has no hub data")


def test_an_answer_over_the_cap_is_not_handed_over() -> None:
    tag, text = case(HubDataImport(FakeHubData(huge=True)).nodes())
    assert tag == "unavailable" and "ask for less" in text


def test_a_host_bug_is_left_to_the_guard() -> None:
    # host_api's guard turns it into `unavailable` and a log line (tests/runtime/
    # test_http_handler.py shows that through a real component).
    with pytest.raises(RuntimeError, match="history database is gone"):
        HubDataImport(FakeHubData(broken=True)).nodes()
