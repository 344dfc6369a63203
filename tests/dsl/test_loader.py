"""load_app: models, error messages naming node id + field, chat conversion, variables."""

from __future__ import annotations

import textwrap

import pytest

from chatflow.dsl import DSLError, load_app, to_graph


def workflow_dsl(nodes: str, *, mode: str = "advanced-chat", extra: str = "") -> str:
    return textwrap.dedent(
        """\
        app:
          name: demo
          mode: {mode}
          icon: "🤖"
        kind: app
        version: 0.3.0
        workflow:
          features:
            opening_statement: Hi there
            suggested_questions: [one, two]
          environment_variables:
          - {{name: api_key, value_type: secret, value: sk-123, id: e1}}
          - {{name: top_n, value_type: number, value: 5, id: e2}}
          conversation_variables:
          - {{name: count, value_type: number, value: 0, id: c1}}
          graph:
            edges:
            - {{source: start, target: answer, id: e}}
            nodes:
        {nodes}
        {extra}"""
    ).format(mode=mode, nodes=textwrap.indent(textwrap.dedent(nodes), "    "), extra=extra)


START_ANSWER = """\
- id: start
  data:
    type: start
    title: Start
    variables:
    - {variable: city, label: City, type: text-input, required: true, max_length: 48}
    - {variable: kind, label: Kind, type: select, options: [a, b]}
- id: answer
  data: {type: answer, title: Answer, answer: "{{#start.city#}}"}
- id: note
  type: custom-note
  data: {type: '', text: a note}
"""


def test_workflow_app_exposes_features_variables_and_form() -> None:
    app = load_app(workflow_dsl(START_ANSWER))
    assert app.app.name == "demo" and app.mode == "advanced-chat" and app.version == "0.3.0"
    assert app.features.opening_statement == "Hi there"
    assert app.features.suggested_questions == ["one", "two"]
    assert app.features.speech_to_text == {"enabled": False}
    assert app.user_input_form()[0]["text-input"]["variable"] == "city"
    assert list(app.user_input_form()[1]) == ["select"]
    assert app.environment() == {"api_key": "sk-123", "top_n": 5}
    assert app.initial_conversation_variables() == {"count": 0}
    graph = to_graph(app)
    assert set(graph.nodes) == {"start", "answer"}


def test_secret_values_never_serialise() -> None:
    app = load_app(workflow_dsl(START_ANSWER))
    secret = app.environment_variables[0]
    assert secret.is_secret and secret.public()["value"] == ""
    assert "sk-123" not in app.model_dump_json()
    assert "sk-123" not in repr(app)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("app: [unclosed", "invalid YAML"),
        ("- just a list", "must be a mapping"),
        ("app: {name: x}\nkind: app", "app.mode: field required"),
        ("app: {mode: chat}\nkind: other", "kind 'other' is not 'app'"),
        (
            "app: {mode: completion}\nmodel_config: {model: {provider: p, name: m}}",
            "app mode 'completion' is not supported",
        ),
    ],
)
def test_bad_documents_raise_dsl_error(text: str, message: str) -> None:
    with pytest.raises(DSLError, match=message):
        load_app(text)


def test_unknown_node_type_names_node_and_type() -> None:
    nodes = START_ANSWER + "- id: '1733'\n  data: {type: teleport, title: T}\n"
    with pytest.raises(DSLError) as caught:
        load_app(workflow_dsl(nodes))
    assert str(caught.value) == "node 1733 (teleport): unsupported node type 'teleport'"


def test_invalid_config_names_node_type_and_field() -> None:
    nodes = START_ANSWER + textwrap.dedent(
        """\
        - id: '1733'
          data:
            type: llm
            title: LLM
            model: {name: gpt-4o, mode: chat}
            prompt_template: []
        """
    )
    with pytest.raises(DSLError) as caught:
        load_app(workflow_dsl(nodes))
    assert str(caught.value).startswith("node 1733 (llm): model.provider: field required")


CHAT_APP = """\
app: {name: helper, mode: chat, icon: x}
kind: app
version: 0.1.3
model_config:
  model: {provider: openai, name: gpt-4o-mini, mode: chat, completion_params: {temperature: 0.2}}
  pre_prompt: "You help with {{topic}}."
  prompt_type: simple
  opening_statement: Welcome
  suggested_questions: [What?]
  user_input_form:
  - text-input: {variable: topic, label: Topic, required: true, default: ''}
  speech_to_text: {enabled: true}
"""


def test_chat_app_becomes_start_llm_answer() -> None:
    app = load_app(CHAT_APP)
    assert app.features.opening_statement == "Welcome"
    assert app.features.speech_to_text == {"enabled": True}
    assert app.user_input_form() == [
        {"text-input": {"variable": "topic", "label": "Topic", "required": True, "default": ""}}
    ]
    graph = to_graph(app)
    assert graph.mode == "advanced-chat"
    assert graph.root.order == ("start", "llm", "answer")
    llm = graph.nodes["llm"].config
    assert llm.model.provider == "openai"  # type: ignore[attr-defined]
    prompt = llm.model_dump()["prompt_template"]
    assert prompt[0]["text"] == "You help with {{#start.topic#}}."
    assert graph.nodes["answer"].config.model_dump()["answer"] == "{{#llm.text#}}"
    start_vars = graph.nodes["start"].config.model_dump()["variables"]
    assert start_vars[0]["variable"] == "topic" and start_vars[0]["type"] == "text-input"


NULL_FIELDS = """\
- id: start
  data:
    type: start
    title: null
    variables:
    - {variable: kind, label: Kind, type: select, options: null, required: null, default: null}
- id: '1733'
  data:
    type: llm
    desc: null
    retry_config: null
    default_value: null
    model: {provider: openai, name: gpt-4o, mode: chat, completion_params: null}
    prompt_template:
    - {role: system, text: Be brief., edition_type: null}
    context: null
    vision: {enabled: false, configs: null}
    memory: {window: null, role_prefix: null, query_prompt_template: null}
- id: answer
  data: {type: answer, title: Answer, answer: "{{#1733.text#}}"}
"""


def test_null_node_fields_read_as_their_defaults() -> None:
    # Exports from several Dify versions write `key: null` for unset fields.
    graph = to_graph(load_app(workflow_dsl(NULL_FIELDS)))
    start = graph.nodes["start"].config.model_dump()
    assert start["title"] == "" and start["variables"][0]["options"] == []
    assert start["variables"][0]["required"] is False
    llm = graph.nodes["1733"].config.model_dump()
    assert llm["retry_config"]["retry_enabled"] is False and llm["default_value"] == []
    assert llm["model"]["completion_params"] == {}
    assert llm["vision"]["configs"]["variable_selector"] == ["sys", "files"]
    assert llm["memory"]["window"] == {"enabled": False, "size": None}


def test_a_required_field_left_null_is_still_an_error() -> None:
    nodes = START_ANSWER + textwrap.dedent(
        """\
        - id: '1733'
          data: {type: llm, title: LLM, model: null, prompt_template: []}
        """
    )
    with pytest.raises(DSLError) as caught:
        load_app(workflow_dsl(nodes))
    assert str(caught.value).startswith("node 1733 (llm): model: field required")


def test_chat_app_advanced_prompt_with_null_text() -> None:
    text = CHAT_APP.replace("prompt_type: simple", "prompt_type: advanced") + (
        "  chat_prompt_config:\n"
        "    prompt:\n"
        "    - {role: system, text: null}\n"
        '    - {role: user, text: "About {{topic}}: {{#query#}}"}\n'
    )
    llm = to_graph(load_app(text)).nodes["llm"].config.model_dump()
    assert [m["text"] for m in llm["prompt_template"]] == [
        "",
        "About {{#start.topic#}}: {{#sys.query#}}",
    ]
    assert llm["memory"]["query_prompt_template"] == ""  # the prompt places the query


def test_chat_app_malformed_advanced_prompt_is_a_dsl_error() -> None:
    text = CHAT_APP.replace("prompt_type: simple", "prompt_type: advanced")
    with pytest.raises(DSLError, match=r"chat_prompt_config\.prompt: must be a list of messages"):
        load_app(text + "  chat_prompt_config: {prompt: [just text]}\n")
