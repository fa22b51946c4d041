"""Focused tests for the data blocks: dictionaries, lists, spreadsheets, XML and persistence."""

from __future__ import annotations

import pytest

from services.blocks.data_dicts import AddToDictionaryBlock, FindInDictionaryBlock
from services.blocks.data_list_ops import ConcatenateListsBlock, FlattenListBlock, ZipListsBlock
from services.blocks.data_lists import AddToListBlock, CreateListBlock, GetListItemBlock
from services.blocks.persistence import PersistInformationBlock, RetrieveInformationBlock
from services.blocks.spreadsheet import ReadSpreadsheetBlock
from services.blocks.xml_parser import XMLParserBlock, parse_xml
from services.domain.blocks.base import BlockInputError, RunContext
from tests.unit.block_runner import run
from tests.unit.fakes import MemoryKeyValueStore

# -- dictionaries and lists ------------------------------------------------------------------


@pytest.mark.parametrize("data, expected", [
    ({"input": {"a": 1}, "key": "a"}, [("output", 1)]),
    ({"input": {"a": 1}, "key": "b"}, [("missing", {"a": 1})]),
    ({"input": '{"a": {"b": 2}}', "key": "a"}, [("output", {"b": 2})]),
    ({"input": '{"1": "one"}', "key": 1}, [("output", "one")]),
    ({"input": "not json", "key": "a"}, [("missing", "not json")]),
    ({"input": ["x", "y"], "key": 1}, [("output", "y")]),
    ({"input": ["x", "y"], "key": -1}, [("missing", ["x", "y"])]),
    ({"input": '["x", "y"]', "key": 5}, [("missing", '["x", "y"]')]),
    ({"input": [{"k1": "v1"}, {"k2": "v2"}, {"k1": "v3"}], "key": "k1"}, [("output", ["v1", "v3"])]),
    ({"input": [{"k2": "v2"}, {"k1": "v3"}], "key": "k1"}, [("output", ["v3"])]),
    ({"input": [], "key": "k"}, [("output", [])]),
])
def test_find_in_dictionary(data, expected):
    assert run(FindInDictionaryBlock, data) == expected


def test_find_in_dictionary_object_attribute_but_not_private():
    class Thing:
        colour = "red"
        _secret = "no"

    assert run(FindInDictionaryBlock, {"input": Thing(), "key": "colour"}) == [("output", "red")]
    assert run(FindInDictionaryBlock, {"input": Thing(), "key": "_secret"})[0][0] == "missing"


def test_add_to_dictionary_does_not_mutate_input():
    original = {"a": 1}
    out = run(AddToDictionaryBlock, {"dictionary": original, "key": "b", "value": 2, "entries": {"c": 3}})
    assert out == [("updated_dictionary", {"a": 1, "b": 2, "c": 3})]
    assert original == {"a": 1}


def test_add_to_list_position():
    base = [1, "string", {"existing_key": "existing_value"}]
    out = run(AddToListBlock, {"list": base, "entry": {"new_key": "new_value"}, "position": 1})
    assert out == [("updated_list", [1, {"new_key": "new_value"}, "string", {"existing_key": "existing_value"}])]
    assert base == [1, "string", {"existing_key": "existing_value"}]
    out = run(AddToListBlock, {"list": [1, 4], "entries": [2], "entry": 3, "position": 1})
    assert out == [("updated_list", [1, 2, 3, 4])]
    assert run(AddToListBlock, {"list": [1], "entry": 0}) == [("updated_list", [1, 0])]
    assert run(AddToListBlock, {}) == [("updated_list", [])]


def test_get_list_item_negative_and_out_of_range():
    assert run(GetListItemBlock, {"list": ["a", "b", "c"], "index": -1}) == [("item", "c")]
    assert run(GetListItemBlock, {"list": ["a", "b", "c"], "index": -3}) == [("item", "a")]
    for index in (3, -4):
        out = run(GetListItemBlock, {"list": ["a", "b", "c"], "index": index})
        assert len(out) == 1 and out[0][0] == "error" and "out of range" in out[0][1]


def test_create_list_empty_and_oversized_item():
    assert run(CreateListBlock, {"values": []}) == [("list", [])]
    # One item over the token budget is yielded alone, never as an empty chunk first.
    assert run(CreateListBlock, {"values": ["x" * 40, "y"], "max_tokens": 2}) == [("list", ["x" * 40]), ("list", ["y"])]


def test_list_ops_shapes():
    with pytest.raises(BlockInputError):
        run(ConcatenateListsBlock, {"lists": [[1], "nope"]})
    assert run(FlattenListBlock, {"nested_list": [[1, [2]]], "max_depth": 0}) == [
        ("flattened_list", [[1, [2]]]), ("length", 1), ("original_depth", 3)]
    deep = current = []
    for _ in range(5000):  # deeper than the recursion limit
        nxt = []
        current.append(nxt)
        current = nxt
    current.append(1)
    assert run(FlattenListBlock, {"nested_list": deep})[0] == ("flattened_list", [1])
    assert run(ZipListsBlock, {"lists": [[1], [2, 3]], "pad_to_longest": True}) == [
        ("zipped_list", [[1, 2], [None, 3]]), ("length", 2)]


def test_spreadsheet_edge_cases():
    out = run(ReadSpreadsheetBlock, {"contents": "a,b\n1,2,3\n", "has_header": True})
    assert out == [("rows", [{"a": "1", "b": "2", "2": "3"}])]
    out = run(ReadSpreadsheetBlock, {"contents": " 1 , 2 \n", "has_header": False, "strip": False})
    assert out == [("rows", [{"0": " 1 ", "1": " 2 "}])]
    assert run(ReadSpreadsheetBlock, {})[0][0] == "error"
    assert run(ReadSpreadsheetBlock, {"file_input": "/etc/passwd"})[0][0] == "error"


# -- XML ---------------------------------------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<lolz>&lol4;</lolz>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<foo>&xxe;</foo>"""

EXTERNAL_PARAMETER_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY % remote SYSTEM "http://169.254.169.254/latest/meta-data/"> %remote;]>
<foo/>"""


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_PARAMETER_ENTITY])
def test_xml_malicious_documents_are_refused(doc):
    out = run(XMLParserBlock, {"input_xml": doc})
    assert len(out) == 1 and out[0][0] == "error"
    assert "root:" not in out[0][1]  # nothing from /etc/passwd leaks into the message


def test_xml_limits_and_shape():
    assert run(XMLParserBlock, {"input_xml": "<a><b>"})[0][0] == "error"
    assert run(XMLParserBlock, {"input_xml": "<a>" * 300 + "</a>" * 300})[0][0] == "error"
    assert parse_xml('<r><i>1</i><i><j>2</j><j>3</j></i>tail</r>') == {
        "r": {"i": ["1", {"j": ["2", "3"]}], "#text": "tail"}}


# -- persistence -------------------------------------------------------------------------------


def test_persistence_scopes_and_users():
    store = MemoryKeyValueStore()
    ctx_a = RunContext(kv_store=store, user_id="alice", graph_id="g1")
    ctx_a2 = RunContext(kv_store=store, user_id="alice", graph_id="g2")
    ctx_b = RunContext(kv_store=store, user_id="bob", graph_id="g1")

    assert run(PersistInformationBlock, {"key": "k", "value": "local"}, ctx_a) == [("value", "local")]
    assert run(PersistInformationBlock, {"key": "k", "value": "shared", "scope": "across_agents"}, ctx_a) == [
        ("value", "shared")]
    assert store.data == {("alice", "agent#g1#k"): "local", ("alice", "global#k"): "shared"}

    get = {"key": "k", "default_value": "dflt"}
    assert run(RetrieveInformationBlock, get, ctx_a) == [("value", "local")]
    assert run(RetrieveInformationBlock, get, ctx_a2) == [("value", "dflt")]  # other agent
    assert run(RetrieveInformationBlock, {**get, "scope": "across_agents"}, ctx_a2) == [("value", "shared")]
    assert run(RetrieveInformationBlock, {**get, "scope": "across_agents"}, ctx_b) == [("value", "dflt")]  # other user
    assert RetrieveInformationBlock.static_output is True
    assert run(RetrieveInformationBlock, get, RunContext())[0][0] == "error"
