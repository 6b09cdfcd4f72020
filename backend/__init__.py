"""The reference government platform: profiles, integrated applications, status.

A stand-in for a city's service platform with a real database and the HTTP
API in docs/backend-api.md, so integrators can point the client at their own.
"""
