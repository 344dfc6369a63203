"""Answer ordering: Dify's response coordinator, for one run of one scope.

Each answer (and, in workflows, end) node has a template of literal text and variable
references. A node's *session* opens as soon as the node is certain to run: some path
from the scope's entry reaches it on which every edge leaving a "blocking" node (branch,
container, answer/end, or an assigner writing a variable the template shows) is known to
be taken. Only one session streams at a time, in the order sessions opened; the next one
is held until the active one has emitted its whole template. While streaming, literal
text is emitted when reached, a reference to a streaming output (LLM `text`) is emitted
chunk by chunk as the node produces it, and any other reference once its node finishes.

The runner calls `start`, `on_chunk`, `on_finished`, `on_skipped` and `finish`; all are
synchronous and cheap when nothing waits on the node concerned.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from chatflow.engine.events import Event, TextChunk
from chatflow.engine.graph import (
    CONTAINER_TYPES,
    DEFAULT_HANDLE,
    RESPONSE_TYPES,
    Graph,
    GraphNode,
    Scope,
)
from chatflow.engine.template import Reference, Segment, parse, render, to_text
from chatflow.engine.variables import MISSING, VariablePool


def response_segments(node: GraphNode) -> tuple[Segment, ...]:
    """An answer's template, or an end node's outputs joined by newlines (as Dify does)."""
    if node.type == "answer":
        return parse(str(getattr(node.config, "answer", "")))
    segments: list[Segment] = []
    for index, output in enumerate(getattr(node.config, "outputs", ())):
        if index:
            segments.append("\n")
        selector = tuple(output.value_selector)
        segments.append(Reference(selector, "{{#" + ".".join(selector) + "#}}"))
    return tuple(segments)


@dataclass(slots=True)
class _Session:
    node_id: str
    segments: tuple[Segment, ...]
    blockers: frozenset[str]  # nodes whose edge choice decides whether this node runs
    index: int = 0


class AnswerStream:
    """Orders the text of a scope's answer/end nodes into `TextChunk` events."""

    __slots__ = (
        "_active",
        "_blocked_on",
        "_buffers",
        "_decided",
        "_emit",
        "_finished",
        "_graph",
        "_pending",
        "_pool",
        "_relevant",
        "_scope",
        "_skipped",
        "_streamed",
        "_waiting",
        "_waiting_selector",
    )

    def __init__(
        self, graph: Graph, scope: Scope, pool: VariablePool, emit: Callable[[Event], None]
    ) -> None:
        self._graph = graph
        self._scope = scope
        self._pool = pool
        self._emit = emit
        templates = graph.memo.get(("answer-templates", scope.root_id))
        if templates is None:
            templates = graph.memo[("answer-templates", scope.root_id)] = self._templates()
        self._pending = {
            node_id: _Session(node_id, segments, blockers)
            for node_id, (segments, blockers) in templates.items()
        }
        # Only these nodes' completion can open a session.
        self._relevant: frozenset[str] = frozenset().union(
            *(session.blockers for session in self._pending.values())
        )
        self._active: _Session | None = None
        self._waiting: deque[_Session] = deque()
        self._blocked_on: str | None = None
        self._waiting_selector: tuple[str, ...] | None = None
        self._buffers: dict[tuple[str, ...], list[str]] = {}
        self._streamed: set[tuple[str, ...]] = set()
        self._finished: set[str] = set()
        self._skipped: set[str] = set()
        self._decided: dict[str, str] = {}

    def _templates(self) -> dict[str, tuple[tuple[Segment, ...], frozenset[str]]]:
        templates = {}
        for node_id in self._scope.responses:
            segments = response_segments(self._graph.nodes[node_id])
            templates[node_id] = (segments, self._blockers(segments))
        return templates

    def _blockers(self, segments: Sequence[Segment]) -> frozenset[str]:
        shown = {seg.selector[:2] for seg in segments if isinstance(seg, Reference)}
        blocking: set[str] = set()
        for node_id in self._scope.members:
            node = self._graph.nodes[node_id]
            if (
                node.selective
                or node.type in CONTAINER_TYPES
                or node.type in RESPONSE_TYPES
                or (node.writes and any(w[:2] in shown for w in node.writes))
            ):
                blocking.add(node_id)
        return frozenset(blocking)

    # -- runner hooks -------------------------------------------------------------------

    def start(self) -> None:
        if self._pending:
            self._open_certain()
            self._flush()

    def on_chunk(self, selector: tuple[str, ...], text: str) -> None:
        if selector == self._waiting_selector:
            # The active session is waiting on exactly this stream: pass it straight on.
            self._streamed.add(selector)
            if text:
                self._emit(TextChunk(text, selector[0], selector))
            return
        self._streamed.add(selector)
        self._buffers.setdefault(selector, []).append(text)

    def on_finished(self, node_id: str, handle: str | None) -> None:
        """Call after the node's outputs are in the pool."""
        self._finished.add(node_id)
        if node_id in self._relevant:
            self._decided[node_id] = handle or DEFAULT_HANDLE
            if self._pending:
                self._open_certain()
        if node_id in self._pending:
            # It ran, so it was certain to run; open it even if no path says so.
            self._open(self._pending.pop(node_id))
        if self._active is not None and (self._blocked_on is None or node_id == self._blocked_on):
            self._flush()

    def on_skipped(self, node_id: str) -> None:
        self._skipped.add(node_id)
        self._pending.pop(node_id, None)
        if self._active is not None and node_id in (self._active.node_id, self._blocked_on):
            if self._active.node_id == node_id:
                self._next_session()
            self._flush()

    def finish(self) -> None:
        """The run is over: stream what is left of sessions whose node ran."""
        for node_id in list(self._pending):
            if node_id in self._finished:
                self._open(self._pending.pop(node_id))
        self._flush()

    @contextmanager
    def muted(self) -> Iterator[None]:
        """Emit nothing for the block (replaying hooks whose text was sent before)."""
        emit, self._emit = self._emit, _drop
        try:
            yield
        finally:
            self._emit = emit

    # -- sessions -----------------------------------------------------------------------

    def _open_certain(self) -> None:
        opened = [s for s in self._pending.values() if self._certain(s)]
        for session in opened:
            del self._pending[session.node_id]
            self._open(session)

    def _open(self, session: _Session) -> None:
        if self._active is None:
            self._active = session
        else:
            self._waiting.append(session)

    def _next_session(self) -> None:
        self._active = self._waiting.popleft() if self._waiting else None
        self._blocked_on = None
        self._waiting_selector = None

    def _certain(self, session: _Session) -> bool:
        """Some path from the entry reaches the node with every blocking edge taken."""
        return self._reaches(session.node_id, session.blockers, {})

    def _reaches(self, node_id: str, blockers: frozenset[str], memo: dict[str, bool]) -> bool:
        # A method, not a closure over itself: a recursive closure is a reference cycle,
        # garbage the cyclic collector would have to find after every run.
        if node_id == self._scope.root_id:
            return True
        known = memo.get(node_id)
        if known is not None:
            return known
        memo[node_id] = False
        nodes = self._graph.nodes
        members = self._scope.members
        for edge in nodes[node_id].incoming:
            source = edge.source
            if source not in members or source in self._skipped:
                continue
            if source in blockers:
                choice = self._decided.get(source)
                if choice is not None and (not nodes[source].selective or choice == edge.handle):
                    memo[node_id] = True
                    return True
            elif self._reaches(source, blockers, memo):
                memo[node_id] = True
                return True
        return False

    def _flush(self) -> None:
        emit = self._emit
        members = self._scope.members
        while (session := self._active) is not None:
            segments = session.segments
            while session.index < len(segments):
                segment = segments[session.index]
                if isinstance(segment, str):
                    if segment:
                        emit(TextChunk(segment, session.node_id, (session.node_id, "answer")))
                    session.index += 1
                    continue
                selector = segment.selector
                source = selector[0]
                if source in members:
                    if source in self._skipped:
                        session.index += 1
                        continue
                    buffered = self._buffers.pop(selector, None)
                    if buffered:
                        for text in buffered:
                            if text:
                                emit(TextChunk(text, source, selector))
                    if source not in self._finished:
                        self._blocked_on = source
                        self._waiting_selector = selector
                        return
                    if selector in self._streamed:
                        session.index += 1
                        continue
                self._emit_value(segment, session.node_id if source not in members else source)
                session.index += 1
            self._next_session()
        self._blocked_on = None
        self._waiting_selector = None

    def _emit_value(self, segment: Reference, from_node_id: str) -> None:
        value = self._pool.get(segment.selector)
        # An unresolvable reference gets the text `template.render` gives it.
        if value is MISSING:
            text = render(segment.raw, self._pool, "markdown")
        else:
            text = to_text(value, "markdown")
        if text:
            self._emit(TextChunk(text, from_node_id, segment.selector))


def _drop(event: Event) -> None:
    pass


class JournaledStream(AnswerStream):
    """The answer coordinator of a run that may pause: it records which nodes finished
    or were skipped, in order, so a resumed run can bring a fresh one to the same place
    (`replay`) without sending its text again."""

    __slots__ = ("journal",)

    def __init__(
        self, graph: Graph, scope: Scope, pool: VariablePool, emit: Callable[[Event], None]
    ) -> None:
        super().__init__(graph, scope, pool, emit)
        self.journal: list[list[Any]] = []

    def on_finished(self, node_id: str, handle: str | None) -> None:
        self.journal.append([node_id, handle, True])
        super().on_finished(node_id, handle)

    def on_skipped(self, node_id: str) -> None:
        self.journal.append([node_id, None, False])
        super().on_skipped(node_id)

    def replay(self, journal: Sequence[Sequence[Any]]) -> None:
        """Bring this fresh coordinator to where a paused run left it, emitting nothing;
        text after that goes to its `emit` as usual."""
        with self.muted():
            self.start()
            for node_id, handle, finished in journal:
                if finished:
                    self.on_finished(node_id, handle)
                else:
                    self.on_skipped(node_id)


class Silent:
    """The answer stream of a scope without answer/end nodes: there is nothing to order,
    so every hook is a no-op (most container bodies; saves building a coordinator)."""

    __slots__ = ()

    def start(self) -> None:
        pass

    def on_chunk(self, selector: tuple[str, ...], text: str) -> None:
        pass

    def on_finished(self, node_id: str, handle: str | None) -> None:
        pass

    def on_skipped(self, node_id: str) -> None:
        pass

    def finish(self) -> None:
        pass


_SILENT = Silent()


def answer_stream(
    graph: Graph, scope: Scope, pool: VariablePool, emit: Callable[[Event], None]
) -> AnswerStream | Silent:
    """The coordinator for one run of `scope`."""
    return AnswerStream(graph, scope, pool, emit) if scope.responses else _SILENT
