"""Telegram adapter and lab server tests."""
