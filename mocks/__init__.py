"""Test doubles that stand in for external services (brokers, chat servers) over real sockets."""
