"""Views: how results and progress are shown to people and to logs (the library computes)."""
