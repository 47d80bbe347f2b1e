"""The run's event log lives with the graph that writes it (`dualchecker.graph.events`)."""

from dualchecker.graph.events import Agent, Event, EventLog, read_events

__all__ = ["Agent", "Event", "EventLog", "read_events"]
