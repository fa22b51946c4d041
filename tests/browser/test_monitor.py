"""The run monitor as a user meets it: `make run`'s stack, its login link, a real Chromium.

Sign in from the link, import an AutoGPT-format graph, run it from the form built from its input
schema and watch every node turn green live, scrub the audit timeline back to the start and
forward again, then stop a long run; plus signing in by pasting a token, and a token the API
refuses."""

from __future__ import annotations

import json
import re

from playwright.sync_api import expect

from tests.browser.conftest import save_picture
from tests.corpus import fixture
from tests.e2e import chaos_kit as kit

TIMER = "d67a9c52-5e4e-11e2-bcfd-0800200c9a71"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"


def sign_in(page, stack) -> None:
    page.goto(f"{stack['base']}/#token={stack['token']}")
    expect(page.get_by_test_id("signed-in-user")).to_have_text("browser-user")
    assert "token=" not in page.url  # the token leaves the address bar (and the history)


def import_graph(page, graph: dict) -> str:
    page.goto(page.url.split("#")[0] + "#/graphs")
    page.get_by_test_id("import-graph-json").fill(json.dumps(graph))
    page.get_by_test_id("import-graph-submit").click()
    expect(page).to_have_url(re.compile(r"#/graphs/[0-9a-f-]{36}$"))
    return page.url.rsplit("/", 1)[1]


def stored(stack, gid: str) -> dict:
    """The graph as the API stored it (creating a graph gives its nodes new ids, as AutoGPT does)."""
    with kit.client(stack) as http:
        return http.get(f"/api/graphs/{gid}").json()


def node(page, node_id: str):
    return page.get_by_test_id(f"node-{node_id}")


def test_sign_in_import_run_watch_and_scrub(page, stack):
    sign_in(page, stack)
    gid = import_graph(page, fixture("greeting_pipeline.json"))
    graph = stored(stack, gid)
    for n in graph["nodes"]:  # drawn from the graph's nodes
        expect(node(page, n["id"])).to_be_visible()
    titles = {"c0a8e994-ebf1-4a9c-a4d8-89d09c86741b": "Agent Input", OUTPUT: "Agent Output",
              "db7d8f02-2f44-4c55-ab7a-eae0941f0c30": "Fill Text Template"}  # as AutoGPT's builder names them
    for n in graph["nodes"]:
        if n["block_id"] in titles:
            expect(node(page, n["id"])).to_contain_text(titles[n["block_id"]])
    page.get_by_test_id("run-input-who").fill("Ada")
    page.get_by_test_id("run-submit").click()
    expect(page).to_have_url(re.compile(rf"#/graphs/{gid}/runs/[0-9a-f-]{{36}}$"))
    expect(page.get_by_test_id("run-status")).to_have_text("COMPLETED")
    for n in graph["nodes"]:
        expect(node(page, n["id"])).to_have_attribute("data-status", "COMPLETED")
    save_picture(page, "monitor-run.png")

    # what the API says the run did is what the page shows
    exec_id = page.url.rsplit("/", 1)[1]
    with kit.client(stack) as http:
        run = http.get(f"/api/graphs/{gid}/executions/{exec_id}").json()
    assert run["outputs"] == {"greeting": ["Hello, Ada! Order #4711 ships today."], "order": ["4711"]}
    greeting = next(n["id"] for n in graph["nodes"] if n["input_default"].get("name") == "greeting")
    node(page, greeting).click()
    expect(page.get_by_test_id("node-details")).to_contain_text("Hello, Ada! Order #4711 ships today.")

    scrubber = page.get_by_test_id("timeline-scrubber")
    last = int(scrubber.get_attribute("max"))
    assert last >= 2 * len(graph["nodes"])  # at least a start and an end per node
    scrubber.fill("1")
    expect(page.get_by_test_id("timeline-seq")).to_have_text("1")
    for n in graph["nodes"]:  # after the first event nothing had run yet
        expect(node(page, n["id"])).not_to_have_attribute("data-status", "COMPLETED")
    # halfway, each node as the API says it stood after that event (some done, some not yet)
    halfway = last // 2
    with kit.client(stack) as http:
        then = http.get(f"/api/executions/{exec_id}/state", params={"at_seq": halfway}).json()
    assert then["status"] == "RUNNING"
    was = {ne["node_id"]: ne["status"] for ne in then["node_executions"]}  # the latest execution wins
    assert "COMPLETED" in was.values() and len([s for s in was.values() if s == "COMPLETED"]) < len(graph["nodes"])
    scrubber.fill(str(halfway))
    expect(page.get_by_test_id("timeline-seq")).to_have_text(str(halfway))
    for n in graph["nodes"]:
        if n["id"] in was:
            expect(node(page, n["id"])).to_have_attribute("data-status", was[n["id"]])
        else:
            expect(node(page, n["id"])).not_to_have_attribute("data-status", re.compile("."))
    save_picture(page, "monitor-timeline.png")
    scrubber.fill(str(last))
    expect(page.get_by_test_id("timeline-seq")).to_have_text(str(last))
    for n in graph["nodes"]:
        expect(node(page, n["id"])).to_have_attribute("data-status", "COMPLETED")


def test_stop_a_long_run(page, stack):
    sleeper = {"name": "a minute's wait", "nodes": [
        {"id": "wait", "block_id": TIMER, "input_default": {"seconds": 60, "input_message": "done"}},
        {"id": "out", "block_id": OUTPUT,
         "input_default": {"name": "message"}}],
        "links": [{"source_id": "wait", "sink_id": "out", "source_name": "output_message", "sink_name": "value"}]}
    sign_in(page, stack)
    wait = next(n["id"] for n in stored(stack, import_graph(page, sleeper))["nodes"] if n["block_id"] == TIMER)
    page.get_by_test_id("run-submit").click()
    expect(node(page, wait)).to_have_attribute("data-status", "RUNNING")
    page.get_by_test_id("run-stop").click()
    expect(page.get_by_test_id("run-status")).to_have_text("TERMINATED")
    expect(node(page, wait)).to_have_attribute("data-status", "TERMINATED")
    expect(page.get_by_test_id("run-stop")).to_be_disabled()


def test_sign_in_by_pasting_a_token_and_a_refused_token_says_why(page, stack):
    page.goto(f"{stack['base']}/")
    page.get_by_test_id("token-input").fill("not-a-token")
    page.get_by_test_id("sign-in").click()
    expect(page.get_by_test_id("signed-in-user")).to_have_count(0)
    expect(page.locator("body")).to_contain_text(re.compile("token", re.IGNORECASE))
    page.get_by_test_id("token-input").fill(stack["token"])
    page.get_by_test_id("sign-in").click()
    expect(page.get_by_test_id("signed-in-user")).to_have_text("browser-user")
    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("token-input")).to_be_visible()
