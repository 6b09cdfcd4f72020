"""Shared by every process: settings, logging, privacy helpers and the launcher."""
