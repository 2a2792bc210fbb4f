"""Test doubles that speak real protocols over loopback (see openai_server.FakeOpenAI).

Kept empty on purpose: `python -m tests.fakes.openai_server` must not import the module twice.
"""
